import torch
import torch.nn as nn

torch.manual_seed(0)
n = 100
X = torch.randn(n, 2)
y = ((X[:, 0] + X[:, 1]) > 0).float().unsqueeze(1)

model = nn.Linear(2, 1)
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)

for _ in range(40):
    logits = model(X)
    loss = criterion(logits, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

with torch.no_grad():
    preds = (torch.sigmoid(model(X)) > 0.5).float()
    acc = (preds == y).float().mean()
print(f"final loss {loss.item():.4f}, accuracy {acc.item():.2%}")
print(model.weight.data, model.bias.data)
