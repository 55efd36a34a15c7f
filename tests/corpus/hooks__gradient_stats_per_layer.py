import torch
import torch.nn as nn

torch.manual_seed(0)
net = nn.Sequential(nn.Linear(5, 5), nn.Sigmoid(), nn.Linear(5, 5), nn.Sigmoid(),
                    nn.Linear(5, 1))
norms = []
for name, param in net.named_parameters():
    if "weight" in name:
        param.register_hook(lambda g, name=name: norms.append((name, round(g.norm().item(), 6))))

out = net(torch.randn(10, 5)).mean()
out.backward()
for name, value in norms:
    print(f"{name}: {value}")
