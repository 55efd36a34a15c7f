import torch
import torch.nn as nn

torch.manual_seed(0)
emb = nn.Embedding(10, 3)
head = nn.Linear(3, 2)

tokens = torch.tensor([[1, 2, 4], [4, 3, 9]])
vectors = emb(tokens)
print(vectors.shape)
sentence = vectors.mean(dim=1)
logits = head(sentence)
loss = nn.functional.cross_entropy(logits, torch.tensor([0, 1]))
loss.backward()
print(f"loss {loss.item():.4f}")
print(emb.weight.grad[4])
print(emb.weight.grad[0])  # token 0 never used
print((emb.weight.grad.abs().sum(dim=1) > 0).nonzero().flatten())
