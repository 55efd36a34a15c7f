import torch

torch.manual_seed(0)
x = torch.randn(10, 2)
y = x @ torch.tensor([[1.5], [-0.5]]) + 0.3

w = torch.zeros(2, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.1

for step in range(20):
    pred = x @ w + b
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    if step % 5 == 0:
        print(step, round(loss.item(), 4))

print(w.flatten(), b)
print(w.requires_grad, w.grad)
