import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(4, 2)
x = torch.randn(3, 5)
try:
    model(x)
except RuntimeError as e:
    print("RuntimeError:", e)

target = torch.zeros(3, 1)
out = nn.Linear(5, 2)(x)
try:
    nn.functional.binary_cross_entropy_with_logits(out, target)
except ValueError as e:
    print("ValueError:", e)
print(out.shape, target.shape)
