import torch

torch.manual_seed(0)
x = torch.randn(4, 3)
w = torch.randn(3, requires_grad=True)
b = torch.tensor(0.5, requires_grad=True)
scale = torch.ones(4, 1, requires_grad=True)

y = (x * w + b) * scale
print(y.shape)
y.sum().backward()
print(w.grad.shape, w.grad)
print(b.grad)
print(scale.grad.shape)
print(torch.allclose(w.grad, (x * scale.detach()).sum(0)))
