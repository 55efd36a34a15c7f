import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))

for key, value in model.state_dict().items():
    print(key, tuple(value.shape))

print(list(model.state_dict().keys()))
sd = model.state_dict()
print(sd["0.bias"])
print(sd["2.weight"].requires_grad)
