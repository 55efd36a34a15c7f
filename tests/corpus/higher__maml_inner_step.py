import torch

torch.manual_seed(0)
w = torch.randn(2, 1, requires_grad=True)
x_s, y_s = torch.randn(5, 2), torch.randn(5, 1)
x_q, y_q = torch.randn(5, 2), torch.randn(5, 1)
inner_lr = 0.1

support_loss = ((x_s @ w - y_s) ** 2).mean()
(g,) = torch.autograd.grad(support_loss, w, create_graph=True)
w_adapted = w - inner_lr * g
query_loss = ((x_q @ w_adapted - y_q) ** 2).mean()
query_loss.backward()
print(f"support {support_loss.item():.4f} query {query_loss.item():.4f}")
print(w.grad)
