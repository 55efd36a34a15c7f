import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x ** 2
z = y.detach() * x  # gradient only flows through the second factor
z.sum().backward()
print("x.grad:", x.grad)  # equals x**2, not 3*x**2

w = torch.tensor([0.5, -1.0], requires_grad=True)
target = (w * 2).detach()
loss = ((w - target) ** 2).mean()
loss.backward()
print(f"loss={loss.item():.4f} grad={w.grad}")
