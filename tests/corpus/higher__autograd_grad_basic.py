import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = (x ** 2 + 3 * x).sum()
(dy_dx,) = torch.autograd.grad(y, x)
print(dy_dx)
print(x.grad)  # autograd.grad does not populate .grad

w = torch.tensor(2.0, requires_grad=True)
b = torch.tensor(-1.0, requires_grad=True)
out = torch.sigmoid(w * 3.0 + b)
gw, gb = torch.autograd.grad(out, [w, b])
print(f"d out/dw = {gw.item():.6f}, d out/db = {gb.item():.6f}")
