import torch
import torch.nn.functional as F

logits = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], requires_grad=True)
probs = F.softmax(logits, dim=-1)
log_probs = F.log_softmax(logits, dim=-1)
print(probs)
print(probs.sum(dim=-1))
print(torch.allclose(log_probs, probs.log()))
lse = torch.logsumexp(logits, dim=1)
print(lse)

entropy = -(probs * log_probs).sum(dim=1).mean()
entropy.backward()
print(f"entropy {entropy.item():.5f}")
print(logits.grad)
