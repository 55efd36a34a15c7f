import torch
import torch.nn as nn

torch.manual_seed(0)
x = torch.linspace(0, 1, 20).unsqueeze(1)
y = 2 * x + 1 + 0.05 * torch.randn(20, 1)

model = nn.Linear(1, 1)
criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)

for epoch in range(50):
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    if epoch % 10 == 0:
        print(f"epoch {epoch:2d} loss {loss.item():.4f}")

print(f"w = {model.weight.item():.3f}, b = {model.bias.item():.3f}")
