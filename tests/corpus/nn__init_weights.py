import torch
import torch.nn as nn


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
model.apply(init_weights)
print(model[0].weight)
print(model[0].bias)

layer = nn.Linear(2, 2)
nn.init.constant_(layer.weight, 0.5)
nn.init.ones_(layer.bias)
print(layer.weight, layer.bias)
nn.init.normal_(layer.weight, mean=0.0, std=0.01)
print(layer.weight)
