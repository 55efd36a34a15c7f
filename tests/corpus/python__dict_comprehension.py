import torch

torch.manual_seed(0)
params = {name: torch.randn(2, requires_grad=True) for name in ["alpha", "beta", "gamma"]}
loss = sum(p.pow(2).sum() for p in params.values())
loss.backward()

grads = {k: v.grad for k, v in params.items()}
for k, g in grads.items():
    print(k, g)
norms = {k: round(g.norm().item(), 4) for k, g in grads.items() if g.norm() > 1}
print(norms)
print(sorted(params.keys()), len(params))
print("beta" in params, "delta" in params)
