import torch


class LinearModel:
    def __init__(self, n):
        self.w = torch.zeros(n, requires_grad=True)
        self.b = torch.zeros(1, requires_grad=True)

    def __call__(self, x):
        return x @ self.w + self.b

    def parameters(self):
        return [self.w, self.b]


model = LinearModel(2)
x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
y = torch.tensor([1.0, 2.0])
loss = ((model(x) - y) ** 2).mean()
loss.backward()
for p in model.parameters():
    print(p.grad)
