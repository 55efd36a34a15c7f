import torch
import torch.nn as nn

config = {"lr": 0.05, "epochs": 15, "hidden": 8, "seed": 7}
torch.manual_seed(config["seed"])

X = torch.randn(24, 2)
y = X.pow(2).sum(dim=1, keepdim=True)
model = nn.Sequential(nn.Linear(2, config["hidden"]), nn.ReLU(), nn.Linear(config["hidden"], 1))
optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
history = {"loss": []}

for _ in range(config["epochs"]):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(X), y)
    loss.backward()
    optimizer.step()
    history["loss"].append(round(loss.item(), 4))

print(config)
print(history["loss"][:3], "...", history["loss"][-1])
print(f"best epoch: {history['loss'].index(min(history['loss']))}")
