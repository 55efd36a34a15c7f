import torch

names = ["w1", "w2", "w3"]
values = [torch.tensor(float(i), requires_grad=True) for i in range(1, 4)]
y = values[0] * values[1] + values[2] ** 2
y.backward()

for i, (name, v) in enumerate(zip(names, values)):
    print(i, name, v.item(), v.grad.item())

for i, name in enumerate(names, start=1):
    print(f"#{i}: {name}")
print(list(zip(names, [v.grad.item() for v in values])))
print(max(values, key=lambda t: t.grad.item()).item())
