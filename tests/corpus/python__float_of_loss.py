import torch

torch.manual_seed(0)
w = torch.randn(3, requires_grad=True)
losses = []
for step in range(3):
    loss = ((w - 1) ** 2).sum()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
    w.grad.zero_()
    losses.append(float(loss))
    print(f"step {step}: {losses[-1]:.4f}")

print(losses)
print(int(torch.tensor(3.7)), bool(torch.tensor(0.0)), float(w.detach().sum()))
