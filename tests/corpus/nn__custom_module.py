import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.fc2 = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        return self.fc2(x)


torch.manual_seed(1)
net = Net(3, 5, 2)
print(net)
x = torch.randn(4, 3)
out = net(x)
print(out)
loss = out.sum()
loss.backward()
print(net.fc1.weight.grad)
print(net.fc2.bias.grad)
