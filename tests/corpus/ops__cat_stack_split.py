import torch

a = torch.tensor([1.0, 2.0], requires_grad=True)
b = torch.tensor([3.0, 4.0, 5.0], requires_grad=True)

c = torch.cat([a, b])
s = torch.stack([a, a * 2])
print(c, s.shape)
first, second = torch.split(c, [3, 2])
chunks = c.chunk(5)
print(first, second, len(chunks))

loss = (first * torch.arange(3.0)).sum() + second.prod() + s.sum()
loss.backward()
print(a.grad)
print(b.grad)
