import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(3, 1)
x = torch.randn(8, 3)

model(x).sum().backward()
print(model.weight.grad)
model(x).sum().backward()
print(model.weight.grad)  # accumulated

model.zero_grad()
print(model.weight.grad)  # None: set_to_none is the default

model(x).sum().backward()
print(model.bias.grad)
