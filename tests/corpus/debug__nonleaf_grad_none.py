import warnings

import torch

x = torch.tensor([2.0], requires_grad=True)
y = x * 3
z = y ** 2
z.backward()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    print(y.grad)  # None: y is not a leaf
print(x.grad)

y = x * 3
y.retain_grad()
z = y ** 2
z.backward()
print(y.grad, x.grad)
