import torch

torch.manual_seed(0)
table = torch.randn(5, 2, requires_grad=True)
frozen_rows = torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0]).unsqueeze(1)
table.register_hook(lambda g: g * frozen_rows)

idx = torch.tensor([0, 2, 3, 2])
loss = table[idx].pow(2).sum()
loss.backward()
print(table.grad)

with torch.no_grad():
    table -= 0.1 * table.grad
print(table)
