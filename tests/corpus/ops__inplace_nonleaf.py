import torch

x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
y = x * 2
y.add_(1)
y.mul_(3)
y.relu_()
print(y, y.grad_fn)
y.sum().backward()
print(x.grad)

a = torch.ones(3, requires_grad=True)
b = a.clone()
b[0] = 10.0
b[1:] *= 5
print(b, b.grad_fn.name())
b.sum().backward()
print(a.grad)
