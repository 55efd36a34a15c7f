import torch
import torch.nn.functional as F

torch.manual_seed(0)
x = torch.randn(2, 5, requires_grad=True)
weight = torch.ones(5, requires_grad=True)
bias = torch.zeros(5, requires_grad=True)

y = F.layer_norm(x, (5,), weight, bias, eps=1e-5)
print(y.mean(dim=-1), y.std(dim=-1, unbiased=False))

manual = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True)
                                                      + 1e-5)
print(torch.allclose(y, manual, atol=1e-6))
(y * torch.arange(5.0)).sum().backward()
print(x.grad)
print(weight.grad, bias.grad)
