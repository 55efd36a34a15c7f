import torch
import torch.nn as nn
import torch.optim as optim

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 4))

# Freeze all the parameters in the network
for param in model.parameters():
    param.requires_grad = False

# replace the classifier; its parameters are unfrozen by default
model[2] = nn.Linear(6, 2)

optimizer = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
x = torch.randn(3, 6)
loss = model(x).pow(2).sum()
loss.backward()
optimizer.step()

for name, p in model.named_parameters():
    print(name, p.requires_grad, None if p.grad is None else p.grad.shape)
