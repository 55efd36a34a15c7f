import torch

x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x * 2
try:
    y.backward()
except RuntimeError as e:
    print("RuntimeError:", e)

y.backward(torch.ones_like(y))
print(x.grad)
y = x * 2
y.sum().backward()
print(x.grad)
