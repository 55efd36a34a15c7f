import torch

torch.manual_seed(0)
a = torch.rand(10, requires_grad=True)
print(a.is_leaf)
b = torch.rand(10, requires_grad=True) + 2
print(b.is_leaf)  # created by an operation
c = torch.rand(10)
print(c.is_leaf, c.requires_grad)
d = torch.rand(10).requires_grad_()
print(d.is_leaf)
e = a.detach()
print(e.is_leaf, e.requires_grad)
f = torch.rand(10, requires_grad=True).double()
print(f.is_leaf, f.grad_fn)
