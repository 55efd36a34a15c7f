import torch

x = torch.tensor([1.0, 2.0], requires_grad=True)
y = torch.stack([x[0] * x[1], x[0] ** 2 + torch.sin(x[1]), x.sum()])

rows = []
for i in range(y.shape[0]):
    (row,) = torch.autograd.grad(y[i], x, retain_graph=True)
    rows.append(row)
J = torch.stack(rows)
print(J)
print(J.shape)
