import torch

x = torch.tensor(2.0, requires_grad=True)
y = x ** 3

dy_dx = torch.autograd.grad(y, x, create_graph=True)[0]
print(dy_dx)  # 3 x^2 = 12
d2y_dx2 = torch.autograd.grad(dy_dx, x)[0]
print(d2y_dx2)  # 6 x = 12
print(dy_dx.requires_grad, d2y_dx2.requires_grad)
