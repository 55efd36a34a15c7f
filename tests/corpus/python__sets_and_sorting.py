import torch

torch.manual_seed(0)
tensors = [torch.randn(2, 3), torch.randn(3), torch.randn(2, 3), torch.randn(1)]
shapes = {tuple(t.shape) for t in tensors}
print(sorted(shapes))
print(len(shapes))

scores = {"a": 0.3, "b": 0.9, "c": 0.1}
ranked = sorted(scores, key=scores.get, reverse=True)
print(ranked)
best = max(scores.items(), key=lambda kv: kv[1])
print(best)

seen = set()
for t in tensors:
    seen.add(t.dim())
print(seen, 2 in seen)
