import torch

x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x.exp()
z = (y * 2).sum()


def scale(grad_outputs):
    print("pre-hook on", y.grad_fn.name(), grad_outputs[0])
    return (grad_outputs[0] * 0.5,)


y.grad_fn.register_prehook(scale)
z.backward()
print(x.grad)
print(torch.allclose(x.grad, x.exp()))
