import torch
import torch.nn.functional as F

torch.manual_seed(0)
x = torch.ones(2, 6, requires_grad=True)
y = F.dropout(x, p=0.5, training=True)
print(y)
y.sum().backward()
print(x.grad)

print(F.dropout(torch.ones(3), p=0.5, training=False))

labels = torch.tensor([0, 2, 1, 2])
onehot = F.one_hot(labels, num_classes=3)
print(onehot, onehot.dtype)
print(F.one_hot(torch.arange(3)).float().sum(0))
