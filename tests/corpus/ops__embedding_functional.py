import torch
import torch.nn.functional as F

torch.manual_seed(0)
weight = torch.randn(6, 3, requires_grad=True)
ids = torch.tensor([[0, 2, 2], [5, 1, 0]])
vecs = F.embedding(ids, weight)
print(vecs.shape)
vecs.sum().backward()
print(weight.grad)  # counts of each id in every column

padded = F.embedding(torch.tensor([0, 1]), weight, padding_idx=0)
print(padded.shape)
