import torch

x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], requires_grad=True)
y = torch.where(x > 0, x ** 2, -x)
c = x.clamp(min=-1.0, max=1.0)
m = torch.maximum(x, torch.zeros(5))
print(y, c, m, sep="\n")
(y + c + m).sum().backward()
print(x.grad)

z = torch.tensor([0.0, 1.0, 4.0], requires_grad=True)
r = z.abs().sqrt()
r.sum().backward()
print(z.grad)
