import torch

x = torch.tensor(0.5, requires_grad=True)
y = torch.sin(x)
derivs = []
d = y
for order in range(1, 4):
    (d,) = torch.autograd.grad(d, x, create_graph=True)
    derivs.append(d.item())
    print(f"order {order}: {d.item():.6f}")

print([round(v, 4) for v in derivs])
print(abs(derivs[2] + torch.cos(x).item()) < 1e-6)
