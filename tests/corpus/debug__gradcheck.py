import torch
from torch.autograd import gradcheck


def f(x, y):
    return (x * y.sin()).sum(dim=0)


torch.manual_seed(0)
x = torch.randn(3, 2, dtype=torch.double, requires_grad=True)
y = torch.randn(3, 2, dtype=torch.double, requires_grad=True)
print(gradcheck(f, (x, y), eps=1e-6, atol=1e-4))
