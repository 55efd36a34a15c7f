import torch


def mse(pred, target, reduction="mean"):
    diff = (pred - target) ** 2
    if reduction == "mean":
        return diff.mean()
    elif reduction == "sum":
        return diff.sum()
    return diff


def forward(x, w, b=None):
    out = x @ w
    if b is not None:
        out = out + b
    return out, out.shape


torch.manual_seed(0)
w = torch.randn(3, 2, requires_grad=True)
b = torch.zeros(2, requires_grad=True)
x = torch.randn(5, 3)
pred, shape = forward(x, w, b=b)
loss = mse(pred, torch.zeros(5, 2), reduction="sum")
loss.backward()
print(shape, f"{loss.item():.4f}")
print(mse(pred, torch.zeros(5, 2), "none").shape)
print(b.grad)
