import torch

a = torch.tensor(1.0, requires_grad=True)
b = torch.tensor(2.0, requires_grad=True)
out = a * 3

ga, gb = torch.autograd.grad(out, [a, b], allow_unused=True)
print(ga, gb)

try:
    torch.autograd.grad(a * 3, [a, b])
except RuntimeError as err:
    print("error:", err)
