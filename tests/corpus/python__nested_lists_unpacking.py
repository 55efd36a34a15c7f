import torch

data = [
    ([1.0, 2.0], 1.0),
    ([2.0, 0.5], 0.0),
    ([0.1, -1.0], 1.0),
]
w = torch.zeros(2, requires_grad=True)
total = 0
for features, label in data:
    x = torch.tensor(features)
    z = (x * w).sum()
    total = total + (z - label) ** 2
total.backward()
print(total, w.grad)

first, *rest = data
print(first, len(rest))
(a, b), c = data[0]
print(a, b, c)
a, b = b, a
print(a, b)
