import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 2, kernel_size=3, padding=1),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(2 * 4 * 4, 3),
)
x = torch.randn(2, 1, 8, 8)
out = model(x)
print(out.shape)
loss = nn.CrossEntropyLoss()(out, torch.tensor([0, 2]))
loss.backward()
print(f"{loss.item():.4f}")
print(model[0].weight.grad.shape)
print(model[0].bias.grad)
