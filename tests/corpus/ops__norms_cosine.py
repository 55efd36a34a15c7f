import torch
import torch.nn.functional as F

torch.manual_seed(0)
a = torch.randn(3, 4, requires_grad=True)
b = torch.randn(3, 4)

print(torch.norm(a, dim=1))
print(a.norm(p=1))
unit = F.normalize(a, dim=1)
print(unit.norm(dim=1))
cos = F.cosine_similarity(a, b, dim=1)
print(cos)
dist = torch.cdist(a, b)
print(dist.shape)
(1 - cos).mean().backward()
print(a.grad)
