import torch

torch.manual_seed(0)
A = torch.randn(3, 3)
A = A @ A.t()
x = torch.randn(3, requires_grad=True)
v = torch.tensor([1.0, 0.0, -1.0])

f = 0.5 * x @ A @ x
(g,) = torch.autograd.grad(f, x, create_graph=True)
(hv,) = torch.autograd.grad(g @ v, x)
print("grad:", g)
print("Hv:  ", hv)
print("A v: ", A @ v)
print(torch.allclose(hv, A @ v, atol=1e-6))
