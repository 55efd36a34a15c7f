import torch

torch.manual_seed(0)
w = torch.randn(3, requires_grad=True)
loss = (w ** 2).sum()
loss.backward()

print(f"loss: {loss.item():.4f}")
print(f"loss: {loss.item():10.2e}|")
print(f"{'param':<8}|{'grad':>10}")
for i in range(3):
    print(f"w[{i}]    |{w.grad[i].item():>10.3f}")
print(f"{loss}")
print(f"{w.shape=}")
print("shape: {}, dtype: {}".format(w.shape, w.dtype))  # noqa: UP032
print("%d elements, mean %.3f" % (w.numel(), w.mean().item()))  # noqa: UP031
