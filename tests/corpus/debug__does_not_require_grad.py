import torch

x = torch.tensor([1.0, 2.0, 3.0])  # forgot requires_grad=True
loss = (x ** 2).sum()
try:
    loss.backward()
except RuntimeError as e:
    print(e)

x.requires_grad = True
loss = (x ** 2).sum()
loss.backward()
print(x.grad)
