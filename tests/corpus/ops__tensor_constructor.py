import torch

t = torch.Tensor([[1, 2], [3, 4]])
print(t, t.dtype)
t.requires_grad_()
s = torch.Tensor(2, 3).zero_()
print(s.shape)
y = (t * t).sum()
y.backward()
print(t.grad)

ints = torch.tensor([1, 2, 3])
print(ints.dtype, ints.float().mean())
print(torch.tensor(3.5).item(), torch.tensor([True, False]).dtype)
print(torch.zeros(2, dtype=torch.float64).dtype, torch.arange(5).tolist())
print(torch.full((2, 2), 7.0), torch.eye(2))
