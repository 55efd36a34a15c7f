import torch


def compute():
    a = torch.tensor([3.], requires_grad=True)
    out = 5 * a**2
    return [a, out]


[a, out] = compute()
print(a)
print(out)
out.backward()
print(a.grad)
print(out.grad_fn)
print(out.grad_fn.next_functions)
