import torch
import torch.nn as nn

torch.manual_seed(0)
bn = nn.BatchNorm1d(3)
x = torch.randn(8, 3) * 2 + 1

bn.train()
y = bn(x)
print(y.mean(dim=0))
print(bn.running_mean)
print(bn.running_var)
print(bn.num_batches_tracked)

y.pow(2).sum().backward()
print(bn.weight.grad)
print(bn.bias.grad)

bn.eval()
print(bn(x)[:2])
