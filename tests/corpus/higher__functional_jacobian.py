import torch
from torch.autograd.functional import hessian, jacobian


def f(x):
    return torch.stack([x[0] ** 2 * x[1], 5 * x[0] + torch.sin(x[1])])


def g(x):
    return (x ** 3).sum()


x = torch.tensor([1.0, 2.0])
print(jacobian(f, x))
print(hessian(g, x))
