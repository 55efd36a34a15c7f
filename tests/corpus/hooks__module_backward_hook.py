import torch
import torch.nn as nn

torch.manual_seed(0)
layer = nn.Linear(3, 2)


def report(module, grad_input, grad_output):
    print(type(module).__name__, "grad_output:", grad_output[0])
    print("grad_input:", grad_input[0])


layer.register_full_backward_hook(report)
x = torch.randn(4, 3, requires_grad=True)
layer(x).sum().backward()
print(x.grad.shape)
