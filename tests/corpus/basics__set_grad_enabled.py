import torch

x = torch.tensor([1.0], requires_grad=True)

is_train = False
with torch.set_grad_enabled(is_train):
    y = x * 2
print(y.requires_grad)

torch.set_grad_enabled(True)
y = x * 2
print(y.requires_grad)

with torch.no_grad():
    with torch.enable_grad():
        z = x * 3
print(z.requires_grad, z.grad_fn.name())

with torch.inference_mode():
    u = x * 4
print(u.requires_grad)
