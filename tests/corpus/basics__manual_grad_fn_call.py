import torch

a = torch.tensor([3.], requires_grad=True)
out = 5 * a**2
print(out.grad_fn.name())
for fn, idx in out.grad_fn.next_functions:
    print(fn, idx)

temp = torch.tensor([1.])
print(out.grad_fn(temp))
print(out.grad_fn.next_functions[0][0](temp))
