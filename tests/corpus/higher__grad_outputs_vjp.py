import torch

torch.manual_seed(0)
W = torch.randn(3, 4, requires_grad=True)
x = torch.randn(4, requires_grad=True)
y = torch.tanh(W @ x)
v = torch.tensor([1.0, 0.5, -1.0])

gW, gx = torch.autograd.grad(y, (W, x), grad_outputs=v)
print(gx)
print(gW.shape)
manual = (v * (1 - y.detach() ** 2)) @ W.detach()
print(torch.allclose(gx, manual))
