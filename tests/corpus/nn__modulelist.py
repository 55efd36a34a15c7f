import torch
import torch.nn as nn


class DeepNet(nn.Module):
    def __init__(self, width, depth):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(width, width) for _ in range(depth)])
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return self.out(x)


torch.manual_seed(3)
net = DeepNet(4, 3)
x = torch.randn(5, 4)
loss = net(x).mean()
loss.backward()
print(len(net.layers))
for i, layer in enumerate(net.layers):
    print(i, f"{layer.weight.grad.abs().mean().item():.6f}")
print(net.out.weight.grad)
