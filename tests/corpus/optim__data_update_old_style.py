import torch

torch.manual_seed(1)
x = torch.randn(30, 1)
y = 3 * x - 2

w = torch.randn(1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
learning_rate = 0.05

for t in range(40):
    y_pred = x * w + b
    loss = (y_pred - y).pow(2).mean()
    loss.backward()
    w.data -= learning_rate * w.grad.data
    b.data -= learning_rate * b.grad.data
    w.grad.data.zero_()
    b.grad.data.zero_()
    if t % 10 == 0:
        print(t, loss.data.item())

print(w.data, b.data)
