import torch

x = torch.tensor([0.5, 1.0, 2.0], requires_grad=True)
funcs = {
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "sin": torch.sin,
    "reciprocal": torch.reciprocal,
}
for name, fn in funcs.items():
    x.grad = None
    fn(x).sum().backward()
    print(f"{name:10s} {x.grad}")

y = x.pow(3) - 2 * x.log1p() + x.erf()
print(y)
