import torch

torch.autograd.set_detect_anomaly(True)
print(torch.is_anomaly_enabled())
a = torch.tensor([1.0, 0.0], requires_grad=True)
b = a / a  # 0/0 in the forward pass
print(b)
try:
    b.sum().backward()
except RuntimeError as err:
    print(type(err).__name__, str(err).splitlines()[0])
torch.autograd.set_detect_anomaly(False)
print(torch.is_anomaly_enabled())
print(torch.isnan(b).any().item())
