import torch
import torch.nn as nn

torch.manual_seed(0)
logits = torch.randn(4, 3, requires_grad=True)
targets = torch.tensor([0, 2, 1, 2])

criterion = nn.CrossEntropyLoss()
loss = criterion(logits, targets)
print(f"cross entropy: {loss.item():.4f}")
loss.backward()
print(logits.grad)
print(logits.grad.sum(dim=1))

probs = torch.softmax(logits, dim=1)
print(probs.argmax(dim=1))
