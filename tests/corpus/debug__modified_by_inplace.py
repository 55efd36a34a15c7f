import torch

a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
b = a.sigmoid()
c = b * 2
b.mul_(2)  # sigmoid saved its output: this breaks the backward
try:
    c.sum().backward()
except RuntimeError as e:
    print(str(e).split(". Hint")[0])
print(b._version)
print(a.grad)
