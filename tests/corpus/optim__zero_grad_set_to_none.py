import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(2, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

loss = model(torch.ones(1, 2)).sum()
loss.backward()
print(model.weight.grad)

optimizer.zero_grad(set_to_none=False)
print(model.weight.grad)  # zeros, still a tensor

loss = model(torch.ones(1, 2)).sum()
loss.backward()
optimizer.step()
optimizer.zero_grad(set_to_none=True)
print(model.weight.grad is None, model.bias.grad)
print(model.weight)
