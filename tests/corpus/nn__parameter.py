import torch
import torch.nn as nn

torch.manual_seed(0)
w = nn.Parameter(torch.randn(3))
print(w)
print(isinstance(w, torch.Tensor), isinstance(w, nn.Parameter))
print(w.requires_grad, w.is_leaf)

x = torch.tensor([1.0, 2.0, 3.0])
y = (w * x).sum()
y.backward()
print(w.grad)

frozen = nn.Parameter(torch.zeros(2), requires_grad=False)
print(frozen.requires_grad)
