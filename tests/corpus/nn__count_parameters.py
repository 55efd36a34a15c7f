import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(10, 32),
    nn.ReLU(),
    nn.Linear(32, 16),
    nn.ReLU(),
    nn.Linear(16, 3),
)

total = sum(p.numel() for p in model.parameters())
trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
print(f"total parameters: {total}")
print(f"trainable parameters: {trainable}")
print(len(list(model.parameters())))
for name, p in model.named_parameters():
    print(f"{name:10s} {str(list(p.shape)):10s} {p.numel()}")
