import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
h = x.register_hook(lambda grad: print("grad arriving at x:", grad))
y = (x ** 2).sum()
y.backward()
print(x.grad)
h.remove()
