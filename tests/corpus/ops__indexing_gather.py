import torch

x = torch.arange(12.0).reshape(3, 4).requires_grad_()
row = x[1]
col = x[:, 2]
picked = x[[0, 2], [1, 3]]
masked = x[x > 8]
g = torch.gather(x, 1, torch.tensor([[0], [3], [1]]))
print(row, col, picked, masked, g.flatten(), sep="\n")

total = row.sum() + 2 * col.sum() + 3 * picked.sum() + masked.sum() + g.sum()
total.backward()
print(x.grad)
