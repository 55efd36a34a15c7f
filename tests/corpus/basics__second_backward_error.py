import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = (x * x).sum()
y.backward()
print("first backward:", x.grad)

try:
    y.backward()
except RuntimeError as e:
    print("RuntimeError:", e)

# the fix: keep the graph around
x.grad = None
z = (x ** 3).sum()
z.backward(retain_graph=True)
z.backward()
print("after two backward calls:", x.grad)
