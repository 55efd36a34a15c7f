import torch

w = torch.ones(3, requires_grad=True)
try:
    w += 1
except RuntimeError as e:
    print("RuntimeError:", e)

try:
    w.mul_(2)
except RuntimeError as e:
    print("RuntimeError:", e)

with torch.no_grad():
    w += 1  # fine: no graph is recorded
print(w)
