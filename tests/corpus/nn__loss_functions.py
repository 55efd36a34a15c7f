import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
pred = torch.randn(5, requires_grad=True)
target = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0])

losses = {
    "mse": nn.MSELoss()(pred, target),
    "l1": nn.L1Loss()(pred, target),
    "smooth_l1": nn.SmoothL1Loss()(pred, target),
    "bce_logits": nn.BCEWithLogitsLoss()(pred, target),
    "bce": nn.BCELoss()(torch.sigmoid(pred), target),
}
for name, value in losses.items():
    print(f"{name:>10}: {value.item():.5f}")

logp = F.log_softmax(torch.randn(3, 4), dim=1)
nll = nn.NLLLoss()(logp, torch.tensor([1, 0, 3]))
print(f"nll: {nll.item():.5f}")

total = sum(losses.values())
total.backward()
print(pred.grad)
