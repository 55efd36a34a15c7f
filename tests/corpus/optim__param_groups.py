import torch
import torch.nn as nn

torch.manual_seed(0)
backbone = nn.Linear(4, 4)
head = nn.Linear(4, 2)
optimizer = torch.optim.SGD([
    {"params": backbone.parameters(), "lr": 1e-3},
    {"params": head.parameters()},
], lr=1e-1)

x = torch.randn(6, 4)
loss = head(torch.relu(backbone(x))).pow(2).mean()
loss.backward()
optimizer.step()

for i, group in enumerate(optimizer.param_groups):
    print(i, group["lr"], len(group["params"]))
print(head.bias)
print(backbone.bias)
