import torch
import torch.nn.functional as F

torch.manual_seed(0)
img = torch.randn(1, 1, 6, 6, requires_grad=True)
kernel = torch.tensor([[[[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]]],
                      requires_grad=True)
edges = F.conv2d(img, kernel, padding=1)
pooled = F.max_pool2d(edges, 2)
avg = F.avg_pool2d(edges, 3)
print(edges.shape, pooled.shape, avg.shape)
loss = pooled.sum() + avg.mean()
loss.backward()
print(kernel.grad)
print(img.grad.abs().sum() > 0)
