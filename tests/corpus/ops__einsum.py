import torch

torch.manual_seed(0)
A = torch.randn(2, 3, requires_grad=True)
B = torch.randn(3, 4, requires_grad=True)

C = torch.einsum("ij,jk->ik", A, B)
print(torch.allclose(C, A @ B))
tr = torch.einsum("ii->", torch.eye(3) * 2)
print(tr)
outer = torch.einsum("i,j->ij", torch.arange(3.0), torch.arange(2.0))
print(outer)
batch = torch.einsum("bij,bjk->bik", torch.ones(2, 2, 3), torch.ones(2, 3, 1))
print(batch.shape)

C.sum().backward()
print(A.grad)
print(B.grad)
