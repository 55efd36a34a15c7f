import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
activations = {}


def get_activation(name):
    def hook(module, inputs, output):
        activations[name] = output.detach()
    return hook


model[1].register_forward_hook(get_activation("relu"))
out = model(torch.randn(2, 3))
print(activations["relu"])
print((activations["relu"] >= 0).all().item())
print(out.shape)
