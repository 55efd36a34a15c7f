import torch
import torch.nn as nn

torch.manual_seed(42)
layer = nn.Linear(3, 2)
print(layer)
print(layer.weight.shape, layer.bias.shape)

x = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
out = layer(x)
print(out.shape)
loss = out.pow(2).mean()
loss.backward()
print(f"loss {loss.item():.4f}")
print(layer.weight.grad)
print(layer.bias.grad)
