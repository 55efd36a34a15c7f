import torch

torch.manual_seed(0)
sizes = [3, 4, 2]
weights = [torch.randn(m, n, requires_grad=True) for m, n in zip(sizes[:-1], sizes[1:])]
print([tuple(w.shape) for w in weights])

x = torch.ones(1, 3)
for w in weights:
    x = torch.relu(x @ w)
loss = x.sum() + sum((w ** 2).sum() for w in weights) * 0.01
loss.backward()
print(f"loss = {loss.item():.4f}")
print([w.grad.shape for w in weights])
print([round(w.grad.abs().sum().item(), 4) for w in weights])
