import torch

torch.manual_seed(0)
xs = [torch.randn(3, requires_grad=True) for _ in range(4)]
total = sum(x.sum() for x in xs)
total.backward()
print(all(torch.equal(x.grad, torch.ones(3)) for x in xs))
print(any(x.grad is None for x in xs))
print(sum(1 for x in xs if x.sum() > 0))
print(tuple(round(x.mean().item(), 3) for x in xs))
print(min(x.norm().item() for x in xs) <= max(x.norm().item() for x in xs))
print(list(map(lambda t: t.shape[0], xs)))
