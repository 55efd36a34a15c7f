import torch
import torch.nn as nn


@torch.no_grad()
def evaluate(model, x, y):
    model.eval()
    out = model(x)
    return (out.argmax(dim=1) == y).float().mean().item(), out.requires_grad


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
x = torch.randn(10, 3)
y = torch.randint(0, 2, (10,))
acc, tracked = evaluate(model, x, y)
print(f"accuracy {acc:.2f}, output tracked: {tracked}")
print(model.training)
model.train()
print(model(x).requires_grad)
