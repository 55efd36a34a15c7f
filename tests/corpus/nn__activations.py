import torch
import torch.nn as nn

x = torch.linspace(-2, 2, 5, requires_grad=True)
acts = [nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.LeakyReLU(0.1), nn.GELU(), nn.Softplus()]
for act in acts:
    y = act(x)
    grad, = torch.autograd.grad(y.sum(), x)
    print(f"{act.__class__.__name__:10s}", y.detach(), grad)

softmax = nn.Softmax(dim=0)
print(softmax(x))
