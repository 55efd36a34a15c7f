import torch

x = torch.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]], requires_grad=True)
values, indices = x.max(dim=1)
print(values, indices)
mins = torch.min(x, dim=0)
print(mins.values, mins.indices)
top = torch.topk(x.flatten(), k=2)
print(top)
print(x.argmax(), x.amax(dim=0))

(values.sum() + mins.values.sum() + x.max()).backward()
print(x.grad)
print(x.mean(), x.std(), x.var(dim=1), x.cumsum(dim=1))
