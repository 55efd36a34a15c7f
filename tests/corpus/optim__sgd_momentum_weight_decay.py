import torch

torch.manual_seed(0)
w = torch.randn(3, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True)
target = torch.tensor([1.0, -2.0, 0.5])

for i in range(25):
    opt.zero_grad()
    loss = ((w - target) ** 2).sum()
    loss.backward()
    opt.step()
    if i % 8 == 0:
        print(f"iter {i}: loss={loss.item():.5f} w={w.data}")

print(opt.param_groups[0]["momentum"], opt.param_groups[0]["lr"])
print(w)
