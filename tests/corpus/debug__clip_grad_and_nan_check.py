import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1))
x = torch.randn(5, 3) * 100
loss = model(x).pow(2).mean()
loss.backward()

for name, p in model.named_parameters():
    if p.grad is not None and not torch.isfinite(p.grad).all():
        print("non-finite grad in", name)
total_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
print(f"norm before clipping: {total_norm.item():.4f}")
after = torch.sqrt(sum(p.grad.pow(2).sum() for p in model.parameters()))
print(f"norm after clipping: {after.item():.4f}")
