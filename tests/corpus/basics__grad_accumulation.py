import torch

# gradients accumulate: calling backward twice adds them up
a = torch.tensor([2.0], requires_grad=True)

out = 5 * a**2
out.backward()
print(a.grad)

out = 5 * a**2
out.backward()
print(a.grad)  # 20 + 20

a.grad.zero_()
out = 5 * a**2
out.backward()
print(a.grad)
