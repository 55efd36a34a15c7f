import torch

torch.manual_seed(0)
batch = torch.randn(4, 2, 3, requires_grad=True)
w = torch.randn(3, 5, requires_grad=True)
out = batch @ w
print(out.shape)
bm = torch.bmm(batch, batch.transpose(1, 2))
print(bm.shape)
mv = torch.mv(w.t(), torch.ones(3))
print(mv.shape, torch.dot(mv, mv).item() > 0)

loss = out.sum() + bm.sum() + mv.sum()
loss.backward()
print(w.grad.shape, batch.grad.shape)
print(w.grad[:, 0])
print(batch.permute(2, 0, 1).shape, batch.view(8, 3).shape, batch.flatten(1).shape)
