import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
x_train = torch.randn(64, 5)
y_train = torch.randint(0, 3, (64,))
n, c = x_train.shape
bs = 16
lr = 0.5
epochs = 3

model = nn.Linear(c, 3)
loss_func = F.cross_entropy

for epoch in range(epochs):
    for i in range((n - 1) // bs + 1):
        start_i = i * bs
        end_i = start_i + bs
        xb = x_train[start_i:end_i]
        yb = y_train[start_i:end_i]
        loss = loss_func(model(xb), yb)

        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= p.grad * lr
            model.zero_grad()
    print(epoch, loss_func(model(x_train), y_train).item())
