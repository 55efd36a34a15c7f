import torch
from torch.autograd import grad

x = torch.linspace(0, 3, 4, requires_grad=True)
y = torch.sin(x) * x

dy = grad(y.sum(), x, create_graph=True)[0]
d2y = grad(dy.sum(), x)[0]
print("dy: ", dy)
print("d2y:", d2y)
expected = 2 * torch.cos(x) - x * torch.sin(x)
print(torch.allclose(d2y, expected.detach()))
