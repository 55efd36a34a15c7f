import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
n_classes = 3
centers = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0]])
labels = torch.arange(n_classes).repeat_interleave(20)
X = centers[labels] + 0.5 * torch.randn(60, 2)

model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, n_classes))
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)

for epoch in range(25):
    optimizer.zero_grad()
    out = model(X)
    loss = F.cross_entropy(out, labels)
    loss.backward()
    optimizer.step()
    if epoch % 5 == 0:
        acc = (out.argmax(dim=1) == labels).float().mean().item()
        print(f"epoch {epoch} loss {loss.item():.4f} acc {acc:.3f}")

pred = model(X).argmax(1)
print("correct:", (pred == labels).sum().item(), "/", len(labels))
