import torch

x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x * 2
y.retain_grad()
y.register_hook(lambda g: print("hook 1 sees", g))
y.register_hook(lambda g: g + 1)
y.register_hook(lambda g: print("hook 3 sees", g))
y.sum().backward()
print("y.grad:", y.grad)
print("x.grad:", x.grad)
