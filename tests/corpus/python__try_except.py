import torch

torch.manual_seed(0)
a = torch.randn(2, 3)
b = torch.randn(4, 5)
try:
    c = a @ b
except RuntimeError as e:
    print("RuntimeError:", e)

try:
    x = torch.tensor([1.0, 2.0])
    print(x[5])
except IndexError as e:
    print("IndexError:", e)

try:
    value = int("abc")
except ValueError:
    value = -1
finally:
    print("value is", value)
