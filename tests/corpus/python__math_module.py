import math

import torch

angle = torch.tensor(math.pi / 6, requires_grad=True)
y = torch.sin(angle) ** 2
y.backward()
print(f"{y.item():.6f}", f"{angle.grad.item():.6f}")
print(math.isclose(angle.grad.item(), math.sin(2 * math.pi / 6), rel_tol=1e-6))

std = 1 / math.sqrt(8)
print(round(std, 5), math.floor(2.7), math.ceil(2.1), math.log(math.e))
print(math.exp(1.0), math.inf > 1e308, math.prod([1, 2, 3, 4]))
