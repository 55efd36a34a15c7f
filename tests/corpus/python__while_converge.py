import torch

x = torch.tensor([5.0], requires_grad=True)
lr = 0.1
step = 0
while True:
    loss = (x - 2) ** 2
    if loss.item() < 1e-6:
        break
    loss.backward()
    with torch.no_grad():
        x -= lr * x.grad
    x.grad.zero_()
    step += 1

print(f"converged after {step} steps: x = {x.item():.5f}")
