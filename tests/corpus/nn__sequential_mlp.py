import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(4, 8),
    nn.ReLU(),
    nn.Linear(8, 1),
)
print(model)

x = torch.randn(16, 4)
y = torch.randn(16, 1)
loss_fn = nn.MSELoss()
loss = loss_fn(model(x), y)
loss.backward()
print(f"loss: {loss.item():.4f}")
for name, p in model.named_parameters():
    print(name, p.grad.shape, f"{p.grad.norm().item():.4f}")
