import torch

grads = {}


def save_grad(name):
    def hook(grad):
        grads[name] = grad
    return hook


x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
y = 3 * x
z = y.relu() * 2
y.register_hook(save_grad("y"))
z.register_hook(save_grad("z"))
loss = z.sum()
loss.backward()

for name in sorted(grads):
    print(name, grads[name])
print(x.grad)
