import torch

try:
    t = torch.tensor([1, 2, 3], requires_grad=True)
except RuntimeError as e:
    print("RuntimeError:", e)

t = torch.tensor([1, 2, 3], dtype=torch.float32, requires_grad=True)
print(t.dtype, t.requires_grad)
try:
    t.long().requires_grad_()
except RuntimeError as e:
    print("RuntimeError:", e)
