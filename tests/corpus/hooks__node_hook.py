import torch

a = torch.tensor([2.0, 3.0], requires_grad=True)
b = a * a
c = b.sum()


def show(grad_inputs, grad_outputs):
    print("MulBackward0 got", grad_outputs, "and passed", grad_inputs)


handle = b.grad_fn.register_hook(show)
c.backward()
print(a.grad)
handle.remove()
