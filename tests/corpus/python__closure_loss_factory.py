import torch


def make_loss(weight):
    def loss_fn(pred, target):
        return weight * ((pred - target) ** 2).mean()
    return loss_fn


def train_step(params, loss_fn, lr=0.1):
    loss = loss_fn(params[0] * 2.0, torch.tensor(4.0))
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None
    return loss.item()


p = torch.tensor(0.0, requires_grad=True)
loss_fn = make_loss(0.5)
history = [train_step([p], loss_fn) for _ in range(5)]
print([f"{h:.4f}" for h in history])
print(p)
