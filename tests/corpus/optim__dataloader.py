import torch
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
x = torch.randn(40, 3)
y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
train_ds = TensorDataset(x, y)
train_dl = DataLoader(train_ds, batch_size=8, shuffle=True)

model = nn.Linear(3, 1)
opt = optim.SGD(model.parameters(), lr=0.1)
loss_func = nn.MSELoss()

for epoch in range(5):
    model.train()
    for xb, yb in train_dl:
        loss = loss_func(model(xb), yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    with torch.no_grad():
        valid_loss = loss_func(model(x), y)
    print(epoch, f"{valid_loss.item():.5f}")
print(len(train_ds), len(train_dl))
