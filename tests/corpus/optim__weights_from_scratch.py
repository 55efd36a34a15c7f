import math

import torch

torch.manual_seed(0)
x_train = torch.randn(50, 6)
y_train = torch.randint(0, 4, (50,))

weights = torch.randn(6, 4) / math.sqrt(6)
weights.requires_grad_()
bias = torch.zeros(4, requires_grad=True)


def log_softmax(x):
    return x - x.exp().sum(-1).log().unsqueeze(-1)


def model(xb):
    return log_softmax(xb @ weights + bias)


def nll(input, target):
    return -input[range(target.shape[0]), target].mean()


loss_func = nll
preds = model(x_train[:10])
print(preds[0], preds.shape)
loss = loss_func(preds, y_train[:10])
print(loss)
loss.backward()
print(weights.grad.shape, bias.grad)
