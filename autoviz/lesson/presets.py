"""Ready-made programs: the tutorials' cells, their three bugs, and a few classics."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    """A program a user can load and then edit. ``fix`` is the corrected program, for the
    "common mistakes" presets whose ``code`` fails on purpose."""

    key: str
    title: str
    code: str
    note: str
    root: str | None = None
    fix: str | None = None


SCALAR = """import torch

a = torch.tensor([3.], requires_grad=True)
O = 5*a**2
"""

SEED_NETWORK = """import torch

torch.manual_seed(0)
x = torch.ones(3)  # input tensor
w = torch.randn(3, 2, requires_grad=True)
b = torch.randn(2, requires_grad=True)
z = torch.matmul(x, w)+b
y = torch.zeros(2) # Output
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
"""

TUTORIAL_NETWORK = """import torch
import torch.nn.functional as F

torch.manual_seed(0)
x = torch.ones(5) # input tensor
y = torch.zeros(3) # expected output

w = torch.randn(5, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)

z = torch.matmul(x, w) + b
loss = F.binary_cross_entropy_with_logits(z, y)
"""

_TYPO = TUTORIAL_NETWORK.replace("requires_grad=True", "require_grad=True")
_SHAPES = TUTORIAL_NETWORK.replace("with_logits(z, y)", "with_logits(x, y)")
_DETACH = TUTORIAL_NETWORK + """z_det = z.detach()
z_det.requires_grad(True) # Need ot turn on the gradient calculation for a z_det
loss = F.binary_cross_entropy_with_logits(z_det, y)
"""
_DETACH_FIX = TUTORIAL_NETWORK + """z_det = z.detach()
z_det.requires_grad_(True) # requires_grad_ (a method) turns it on; requires_grad is a flag
loss = F.binary_cross_entropy_with_logits(z_det, y)
"""

NEURON = """import torch

# a micrograd-style neuron: o = tanh(x1*w1 + x2*w2 + b)
x1 = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
x2 = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
w1 = torch.tensor(-3.0, dtype=torch.float64, requires_grad=True)
w2 = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
b = torch.tensor(6.8813735870195432, dtype=torch.float64, requires_grad=True)
n = x1*w1 + x2*w2 + b
o = torch.tanh(n)
"""

MLP = """import torch
import torch.nn.functional as F

torch.manual_seed(0)
x = torch.randn(4, 3)            # a batch of 4 inputs
target = torch.tensor([0, 2, 1, 0])
w1 = torch.randn(3, 5, requires_grad=True)
b1 = torch.zeros(5, requires_grad=True)
w2 = torch.randn(5, 3, requires_grad=True)
b2 = torch.zeros(3, requires_grad=True)
h = torch.relu(x @ w1 + b1)
logits = h @ w2 + b2
loss = F.cross_entropy(logits, target)
"""

DEEP = """import torch

# 200 layers in a loop: about 1,000 autograd nodes (the view folds what does not fit)
torch.manual_seed(0)
h = torch.randn(4, 8)
for i in range(200):
    w = torch.randn(8, 8, requires_grad=True) / 3
    h = torch.tanh(h @ w)
loss = h.pow(2).mean()
"""

CHAIN = """import torch

# one multiply per line of a long loop: a 5,000-node chain
x = torch.tensor([1.], requires_grad=True)
y = x
for i in range(5000):
    y = y * 1.0001
"""

PRESETS: dict[str, Preset] = {p.key: p for p in (
    Preset("scalar", "Scalar: O = 5·a² at a = 3", SCALAR,
           "The scalar case of autograd_in_pytorch: dO/da = 10·a = 30.", "O"),
    Preset("seed_network", "One-layer network (BCE with logits)", SEED_NETWORK,
           "x = ones(3), w 3×2, b 2: z = x @ w + b, binary cross-entropy with logits.", "loss"),
    Preset("tutorial_network", "Tutorial network 5 → 3", TUTORIAL_NETWORK,
           "The one-layer network of autograd_tutorial, with its bugs fixed.", "loss"),
    Preset("mistake_typo", "Mistake: require_grad=True", _TYPO,
           "torch.randn has no 'require_grad' argument: torch refuses it. The fix spells "
           "it requires_grad.", None, TUTORIAL_NETWORK),
    Preset("mistake_shapes", "Mistake: loss on the wrong tensor", _SHAPES,
           "The loss is computed on the input x (5 values) against y (3 values): torch "
           "refuses the shapes. The fix passes z, the network's output.", None,
           TUTORIAL_NETWORK),
    Preset("mistake_detach", "Mistake: z_det.requires_grad(True)", _DETACH,
           "requires_grad is a flag, not a method: calling it fails. The fix calls "
           "requires_grad_(True); backward then stops at z_det, so w and b get no grad.",
           None, _DETACH_FIX),
    Preset("neuron", "tanh neuron (micrograd)", NEURON,
           "Karpathy's micrograd neuron in float64: o = tanh(x1·w1 + x2·w2 + b).", "o"),
    Preset("mlp", "Two-layer MLP, cross-entropy", MLP,
           "A batch of 4 through 3 → 5 → 3 with ReLU and cross-entropy.", "loss"),
    Preset("deep", "Deep network: 200 layers (~1,000 nodes)", DEEP,
           "A big graph: the view draws up to the node budget and folds the rest into "
           "summary boxes you can click open. Stepping stays a restyle.", "loss"),
    Preset("chain", "Long chain: 5,000 multiplies", CHAIN,
           "One node per loop iteration; the view folds the chain. Step, or jump with the "
           "slider: the summary box holding the current node says which step it is.", "y"),
)}

DEFAULT = "scalar"
