import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(4, 2)
for p in model.parameters():
    p.register_hook(lambda grad: torch.clamp(grad, -0.1, 0.1))

x = torch.randn(8, 4) * 10
loss = model(x).pow(2).mean()
loss.backward()
print(model.weight.grad)
print(model.bias.grad)
print(model.weight.grad.abs().max().item() <= 0.1)
