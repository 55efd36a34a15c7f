import torch
from torch import nn, optim

torch.manual_seed(0)
X = torch.randn(32, 3)
y = (X[:, :1] * 2 - X[:, 1:2]).tanh()

model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
opt = optim.Adam(model.parameters(), lr=1e-2)
loss_fn = nn.MSELoss()

losses = []
for _ in range(30):
    opt.zero_grad()
    loss = loss_fn(model(X), y)
    loss.backward()
    opt.step()
    losses.append(loss.item())

print(f"first {losses[0]:.4f} last {losses[-1]:.4f}")
print(losses[-1] < losses[0])
print([round(v, 3) for v in losses[::10]])
