import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(p=0.5), nn.Linear(4, 1))
x = torch.ones(2, 4)

model.train()
print(model.training, model[1].training)
out_train = model(x)
print(out_train)

model.eval()
print(model.training, model[1].training)
with torch.no_grad():
    out_a = model(x)
    out_b = model(x)
print(torch.equal(out_a, out_b))
print(out_a)
