import torch

x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x * 2
try:
    y.tolist()
    print("tolist ok:", y.tolist())
    print(float(y.sum()))
    print(y.detach().clone())
except RuntimeError as e:
    print(e)
try:
    y.numpy()
except RuntimeError as e:
    print("RuntimeError:", e)
print(y.detach().requires_grad)
