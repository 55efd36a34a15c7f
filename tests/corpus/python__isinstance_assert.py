import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(3, 1)
x = torch.randn(4, 3)
out = model(x)

assert isinstance(out, torch.Tensor)
assert out.shape == (4, 1), f"unexpected shape {out.shape}"
assert isinstance(model, nn.Module)
assert out.requires_grad and not x.requires_grad

out.mean().backward()
assert model.weight.grad is not None
assert torch.allclose(model.bias.grad, torch.ones(1))
print("all checks passed")
print(isinstance(3, int), isinstance(2.5, (int, float)), isinstance(x, nn.Module))
