import torch

x = torch.tensor([1.0, 2.0], requires_grad=True)
h = x * 3
h.retain_grad()
y = h.pow(2).sum()
y.backward()

print("x.is_leaf:", x.is_leaf, " h.is_leaf:", h.is_leaf)
print("h.grad:", h.grad)
print("x.grad:", x.grad)
print("h.retains_grad:", h.retains_grad)
