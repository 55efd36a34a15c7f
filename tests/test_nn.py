"""torch.nn modules, a program's own nn.Module class, nn.init and the optimizers, run
through the interpreter: torch (the same program run natively) is the oracle; and what a
hostile class or module use tries is refused at its line."""

from __future__ import annotations

import contextlib
import io
import textwrap

import pytest
import torch

from autoviz.lesson.lab import make_study
from autoviz.runner.errors import ProgramError
from autoviz.runner.program import Program, run_program

NET = textwrap.dedent("""\
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    class Net(nn.Module):
        def __init__(self, hidden):
            super().__init__()
            self.fc1 = nn.Linear(3, hidden)
            self.fc2 = nn.Linear(hidden, 1)

        def forward(self, x):
            h = torch.relu(self.fc1(x))
            return self.fc2(h)

    model = Net(4)
    x = torch.randn(5, 3)
    y = torch.randn(5, 1)
    loss_fn = nn.MSELoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step in range(3):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        print(f"step {step}: {loss.item():.6f}")
    print(model)
    for name, p in model.named_parameters():
        print(name, p.grad.shape)
    """)

SEQUENTIAL = textwrap.dedent("""\
    import torch
    from torch import nn

    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=0.01)
    X = torch.randn(10, 4)
    y = torch.randint(0, 3, (10,))
    for epoch in range(5):
        optimizer.zero_grad()
        loss = criterion(model(X), y)
        loss.backward()
        optimizer.step()
    print(loss.item())
    print(model[0].weight.grad.norm())
    print(len(model), model[2])
    nn.init.xavier_uniform_(model[0].weight)
    nn.init.zeros_(model[0].bias)
    print(model[0].weight.sum())
    """)

LAYERS = textwrap.dedent("""\
    import torch
    import torch.nn as nn

    torch.manual_seed(2)
    emb = nn.Embedding(5, 2)
    ln = nn.LayerNorm(2)
    z = ln(emb(torch.tensor([1, 2, 3])))
    drop = nn.Dropout(0.5)
    d = drop(torch.ones(6))
    drop.eval()
    e = drop(torch.ones(3))
    p = nn.Parameter(torch.ones(2))
    flat = nn.Flatten()(torch.ones(2, 3, 4))
    act = [nn.ReLU()(z), nn.Sigmoid()(z), nn.Softmax(dim=1)(z), nn.LogSoftmax(dim=1)(z),
           nn.LeakyReLU(0.1)(z), nn.GELU()(z), nn.Identity()(z)]
    losses = [nn.L1Loss()(z, torch.zeros(3, 2)), nn.BCEWithLogitsLoss()(z, torch.ones(3, 2)),
              nn.BCELoss()(torch.sigmoid(z), torch.ones(3, 2)),
              nn.NLLLoss()(torch.log_softmax(z, 1), torch.tensor([0, 1, 1]))]
    total = act[0].sum() + act[2].sum() + losses[0] + losses[3]
    total.backward()
    print(z, d, e, p, flat.shape)
    print(emb.weight.grad)
    print(ln.weight.grad, ln.bias.grad)
    """)


def native(source: str) -> tuple[str, dict]:
    """The program run by Python itself (the oracle): what it printed and its variables."""
    out = io.StringIO()
    space: dict = {}
    # the runner's own thread count: reductions split over threads sum in another order
    torch.set_num_threads(1)
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<native>", "exec"), space)  # noqa: S102 - our own test program
    return out.getvalue(), space


def parameters(space: dict) -> dict[str, tuple]:
    """Every parameter of every module variable, with its gradient."""
    found = {}
    for name, value in space.items():
        if isinstance(value, torch.nn.Module):
            for pname, p in value.named_parameters():
                found[f"{name}.{pname}"] = (p.detach().clone(),
                                            None if p.grad is None else p.grad.clone())
    return found


@pytest.mark.parametrize("source", [NET, SEQUENTIAL, LAYERS], ids=["class", "sequential",
                                                                    "layers"])
def test_modules_and_optimizers_run_as_torch_runs_them(source):
    assert_runs_as_torch(source)


def assert_runs_as_torch(source: str) -> tuple[Program, dict]:
    """``source`` prints the same through autoviz as natively, and every module variable's
    parameters and gradients are torch's own; returns both runs."""
    printed, space = native(source)
    program = run_program(source)
    assert program.output == printed
    ours, theirs = parameters(program.namespace), parameters(space)
    assert ours.keys() == theirs.keys() and ours
    for key, (value, grad) in theirs.items():
        assert torch.equal(ours[key][0], value), key
        assert (grad is None and ours[key][1] is None) or torch.equal(ours[key][1], grad), key
    return program, space


def test_a_modules_parameters_are_named_in_the_graph_and_the_engine_order_is_torchs():
    study = make_study(NET, "loss")
    leaves = sorted(n.tensor.name for n in study.graph.nodes if n.kind == "leaf")
    assert leaves == ["model.fc1.bias", "model.fc1.weight", "model.fc2.bias",
                      "model.fc2.weight"]
    _, space = native(NET)
    order = []
    loss = space["loss_fn"](space["model"](space["x"]), space["y"])
    seen, stack = set(), [loss.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        fn.register_prehook(lambda g, fn=fn: order.append(fn.name()))
        stack.extend(f for f, _ in fn.next_functions)
    loss.backward()
    assert [s.name.rpartition("::")[2] for s in study.trace.steps] == [
        n.rpartition("::")[2] for n in order]


@pytest.mark.parametrize("source, said", [
    ("class Net(nn.Module):\n    def __call__(self, x):\n        return x\n",
     "a method here is __init__ or a plain name"),
    ("class Net(nn.Module):\n    def _hidden(self):\n        return 1\n",
     "a method here is __init__ or a plain name"),
    ("class Net(object):\n    pass\n", "subclasses nn.Module only"),
    ("class Net(nn.Module, nn.Linear):\n    pass\n", "subclasses nn.Module only"),
    ("class Net(nn.Module, metaclass=type):\n    pass\n", "subclasses nn.Module only"),
    ("@nn.Module\nclass Net(nn.Module):\n    pass\n", "subclasses nn.Module only"),
    ("class Net(nn.Module):\n    x = 1\n", "a class here holds methods only"),
    ("class Net(nn.Module):\n    def forward():\n        return 1\n", "needs self"),
    ("def f():\n    class Net(nn.Module):\n        pass\n", "top level"),
    ("Module = nn.Linear\nclass Net(Module):\n    pass\n", "subclasses nn.Module only"),
    ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.__dict__ = 1\nNet()\n", "names starting with '_' are not allowed"),
    ("m = nn.Linear(2, 2)\nm.weight = nn.Parameter(torch.ones(2, 2))\n",
     "set attributes in your own nn.Module class"),
    ("m = nn.Linear(2, 2)\nprint(m._parameters)\n", "names starting with '_'"),
    ("m = nn.Linear(2, 2)\nm.apply(print)\n", "can only be called here"),
    ("m = nn.Linear(2, 2)\nm.register_forward_hook(print)\n", "can only be called here"),
    ("m = nn.Linear(20000, 20000)\n", "the parameters of nn.Linear would take"),
    ("m = nn.Embedding(10**7, 64)\n", "the parameters of nn.Embedding would take"),
    ("m = nn.Linear(2, 2, device='meta')\n", "CPU only"),
    ("m = nn.Conv3d(1, 1, 3)\n", "not in autoviz's allowlist"),
    ("opt = torch.optim.LBFGS([torch.ones(1, requires_grad=True)])\n", "allowlist"),
    ("opt = torch.optim.SGD([torch.ones(1, requires_grad=True)], lr=0.1)\n"
     "print(opt.state)\n", "not in autoviz's allowlist"),
    ("opt = torch.optim.SGD([torch.ones(1, requires_grad=True)], lr=0.1)\n"
     "opt.step(1)\n", "closure"),
    ("opt = torch.optim.SGD(5, lr=0.1)\n", "takes a list of tensors"),
    ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.f = print\nNet()\n", "can only be called here"),
    ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.c = torch.no_grad()\nNet()\n", "can only be called here"),
])
def test_hostile_classes_and_module_uses_are_refused_at_their_line(source, said):
    with pytest.raises(ProgramError) as caught:
        run_program("import torch\nimport torch.nn as nn\n" + source)
    assert caught.value.refused and said in str(caught.value), str(caught.value)
    assert caught.value.lineno is not None and caught.value.lineno >= 3


@pytest.mark.parametrize("source, error", [
    # torch's own errors, as torch raises them natively
    ("class Net(nn.Module):\n    def __init__(self):\n        self.fc = nn.Linear(2, 2)\n"
     "Net()\n", "AttributeError: cannot assign module before Module.__init__() call"),
    ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "Net()(torch.ones(2))\n", 'missing the required "forward" function'),
    ("m = nn.Linear(3, 2)\nm(torch.ones(4, 2))\n", "RuntimeError: mat1 and mat2 shapes"),
    ("m = nn.Sequential(nn.Linear(2, 2), 3)\n", "TypeError: int is not a Module subclass"),
])
def test_torchs_own_errors_come_through(source, error):
    with pytest.raises(ProgramError) as caught:
        run_program("import torch\nimport torch.nn as nn\n" + source)
    assert not caught.value.refused and error in str(caught.value), str(caught.value)


OPS = textwrap.dedent("""\
    import torch
    import torch.nn.functional as F
    torch.manual_seed(0)
    a = torch.randn(3, 4, requires_grad=True)
    b = torch.randn(4, 5)
    c = torch.einsum("ij,jk->ik", a, b)
    d = torch.einsum("ij->j", a)
    t = torch.Tensor([1, 2, 3])
    oh = F.one_hot(torch.tensor([0, 2, 1]))
    oh3 = F.one_hot(torch.tensor([0, 2]), num_classes=4)
    e = F.embedding(torch.tensor([1, 0]), torch.randn(3, 2))
    ln = F.layer_norm(a, (4,))
    dr = F.dropout(a, p=0.5)
    x = a.detach()
    x.detach_()
    print(c.sum(), d, t, oh, oh3, e, ln.sum(), dr.sum(), x.requires_grad, a.cpu().shape)
    (c.sum() + ln.sum() + dr.sum()).backward()
    print(a.grad)
    print(F.cosine_similarity(a, a).shape)
    print(F.kl_div(a.log_softmax(1), a.softmax(1), reduction="batchmean"))
    """)


def test_more_torch_functions_run_as_torch_runs_them():
    printed, space = native(OPS)
    program = run_program(OPS)
    assert program.output == printed
    assert torch.equal(program.namespace["a"].grad, space["a"].grad)


@pytest.mark.parametrize("source, said", [
    ("torch.einsum('ij,jk,kl->il', torch.ones(2000, 2000), torch.ones(2000, 2000), "
     "torch.ones(2000, 2000))",
     "floating-point operations"),
    ("torch.einsum('i,j->ij', torch.ones(100000), torch.ones(100000))", "would take"),
    ("F.one_hot(torch.tensor([0]), num_classes=10**9)", "would take"),
    ("F.one_hot(torch.tensor([10**9]))", "would take"),
    ("F.embedding(torch.zeros(10**6, dtype=torch.long), torch.ones(3, 1000))", "would take"),
    ("torch.Tensor(100000, 100000)", "would take"),
    ("torch.einsum('...ij->...ji', torch.ones(200, 200, 5))", "could not work out"),
])
def test_new_functions_are_sized_before_they_run(source, said):
    with pytest.raises(ProgramError) as caught:
        run_program("import torch\nimport torch.nn.functional as F\n" + source + "\n")
    assert caught.value.refused and said in str(caught.value) and caught.value.lineno == 3


HIGHER = textwrap.dedent("""\
    import torch
    x = torch.tensor(2.0, requires_grad=True)
    y = x ** 3
    (dy,) = torch.autograd.grad(y, x, create_graph=True)
    (d2y,) = torch.autograd.grad(dy, x, retain_graph=True)
    print(dy, d2y)
    z = 3 * x
    g = torch.autograd.grad(z, x, create_graph=True)[0]
    print(g, g.requires_grad, g.grad_fn)
    w = torch.ones(3, requires_grad=True)
    v = (w * w).sum()
    gw = torch.autograd.grad(v, [w], grad_outputs=torch.tensor(2.0), retain_graph=True)
    print(gw)
    u = torch.ones(2, requires_grad=True)
    print(torch.autograd.grad((u * 2).sum(), [u, w], allow_unused=True))
    """)


def test_autograd_grad_and_second_derivatives_run_as_torch_runs_them():
    printed, space = native(HIGHER)
    program = run_program(HIGHER)
    assert program.output == printed
    assert program.namespace["d2y"].item() == space["d2y"].item() == 12.0  # 6x at x = 2


def test_the_graph_of_dy_dx_is_a_root_to_step_and_a_constant_gradient_is_explained():
    study = make_study(HIGHER, "dy")  # dy = 3x², its own graph: step it, d²y/dx² = 6x
    assert study.error is None and study.trace is not None
    assert [s.name for s in study.trace.steps][0] == "MulBackward0"
    _, space = native(HIGHER)
    x = space["x"]
    x.grad = None
    space["dy"].backward()
    assert study.first_grads["x"] == f"{x.grad.item():g}."
    (name, why), = study.gradient_notes
    assert name == "g" and "line 8" in why and "it is a constant" in why
    assert "element 0 of tensors does not require grad" in why


@pytest.mark.parametrize("source, said", [
    ("torch.autograd.grad(y, x, is_grads_batched=True)", "is not supported"),
    ("torch.autograd.grad(y, print)", "can only be called here"),
])
def test_autograd_grad_refusals(source, said):
    with pytest.raises(ProgramError) as caught:
        run_program("import torch\nx = torch.ones(2, requires_grad=True)\ny = (x * 2).sum()\n"
                    + source + "\n")
    assert caught.value.refused and said in str(caught.value) and caught.value.lineno == 4


def test_autograd_grads_own_errors_come_through():
    source = ("import torch\nx = torch.ones(2, requires_grad=True)\nu = torch.ones(2, "
              "requires_grad=True)\ntorch.autograd.grad((x * 2).sum(), [u])\n")
    with pytest.raises(RuntimeError) as natively:
        native(source)
    with pytest.raises(ProgramError) as caught:
        run_program(source)
    assert not caught.value.refused and caught.value.lineno == 4
    assert caught.value.message == f"RuntimeError: {natively.value}"


# ---- issue 14: containers, convolutions, batch norm, schedulers, clipping, devices -------
H = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
OPT = "opt = torch.optim.SGD([torch.ones(1, requires_grad=True)], lr=0.1)\n"
CONTAINERS = textwrap.dedent("""\
    import torch
    import torch.nn as nn

    torch.manual_seed(4)


    class Stack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(width, width) for _ in range(depth)])
            self.layers.append(nn.Linear(width, 2))
            self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(depth))
            self.acts = nn.ModuleList()
            self.acts.extend([nn.Tanh(), nn.ReLU()])
            self.acts.insert(1, nn.Sigmoid())

        def forward(self, x):
            for layer, norm in zip(self.layers[:-1], self.norms):
                x = norm(torch.tanh(layer(x)))
            for i, act in enumerate(self.acts):
                x = act(x) + i
            return self.layers[-1](x)


    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.1)
            nn.init.constant_(m.bias, 0.01)
        elif isinstance(m, (nn.LayerNorm, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)


    net = Stack(4, 3)
    net.apply(init_weights)
    x = torch.randn(5, 4)
    loss = net(x).pow(2).mean()
    loss.backward()
    print(len(net.layers), len(net.acts), net.acts[1], net.layers[-1])
    print(len(net.layers[1:]), net.layers[1:])
    for i, layer in enumerate(reversed(net.layers)):
        print(i, f"{layer.weight.grad.abs().sum().item():.6f}")
    first = next(net.parameters())
    print(first.shape, next(net.named_parameters())[0])
    params = net.parameters()
    print(len(list(params)), len(list(params)), sum(p.numel() for p in net.parameters()))
    print(next(net.children(), None) is net.layers)
    print([name for name, _ in net.named_children()])

    seq = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 3))
    seq[1] = nn.Tanh()
    seq[-1] = nn.Linear(4, 2)
    seq.apply(init_weights)
    net.layers[0] = nn.Linear(4, 4)
    out = seq(x)
    out.sum().backward()
    print(seq, out)
    print(seq[2].weight.grad)
    """)

CONVOLUTIONS = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(5)
    net = nn.Sequential(
        nn.Conv2d(2, 4, kernel_size=3, padding=1, padding_mode="reflect"),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Conv2d(4, 4, (3, 1), stride=(1, 2), dilation=(2, 1), groups=2, bias=False),
        nn.AvgPool2d(2, stride=1, padding=1, count_include_pad=False),
        nn.Flatten(),
    )
    x = torch.randn(3, 2, 9, 7)
    h = net(x)
    print(h.shape)
    same = nn.Conv2d(2, 3, 4, padding="same", padding_mode="circular")
    valid = nn.Conv1d(3, 2, 2, stride=2, padding="valid")
    line = nn.Conv1d(3, 6, 3, padding=2, dilation=2, groups=3, padding_mode="replicate")
    pool1 = nn.MaxPool1d(3, stride=2, padding=1, return_indices=True)
    avg1 = nn.AvgPool1d(2, ceil_mode=True)
    avg2 = nn.AvgPool2d((2, 3), divisor_override=5)
    s = same(x)
    values, indices = pool1(line(torch.randn(4, 3, 11)))
    v = valid(torch.randn(3, 10))
    print(s.shape, values.shape, indices, v.shape, avg1(v).shape, avg2(s).shape)
    img = torch.randn(1, 1, 6, 6, requires_grad=True)
    kernel = torch.randn(2, 1, 3, 3, requires_grad=True)
    e = F.conv2d(img, kernel, torch.zeros(2), stride=2, padding=(1, 2))
    m, where = F.max_pool2d(e, 2, return_indices=True, ceil_mode=True)
    f = F.conv1d(torch.randn(2, 8), torch.randn(4, 2, 3), dilation=2)
    p = F.max_pool1d(f, 2) + F.avg_pool1d(f, 2, count_include_pad=False)
    q = F.avg_pool2d(e, (2, 1), stride=1, padding=(1, 0), ceil_mode=True)
    print(e.shape, m.shape, where, p, q.shape)
    loss = h.pow(2).mean() + s.mean() + values.sum() + m.sum() + q.mean() + avg2(s).sum()
    loss.backward()
    print(f"{loss.item():.6f}")
    print(net[0].weight.grad.abs().sum(), net[4].weight.grad.shape, kernel.grad, img.grad.sum())
    print(net[1].running_mean, net[1].num_batches_tracked, net[0].padding_mode, net[4].groups)
    """)

NORMS_AND_LOSSES = textwrap.dedent("""\
    import torch
    import torch.nn as nn

    torch.manual_seed(6)
    bn = nn.BatchNorm1d(3)
    seq_bn = nn.BatchNorm1d(3, momentum=None, eps=1e-3)
    plain = nn.BatchNorm1d(3, affine=False)
    untracked = nn.BatchNorm2d(2, track_running_stats=False)
    x = torch.randn(8, 3) * 2 + 1
    t = torch.randn(4, 3, 5)
    img = torch.randn(2, 2, 3, 3, requires_grad=True)
    for step in range(3):
        y = bn(x * (step + 1))
        z = seq_bn(t + step)
    print(bn.running_mean, bn.running_var, bn.num_batches_tracked)
    print(seq_bn.running_mean, seq_bn.num_batches_tracked, seq_bn.momentum, seq_bn.eps)
    w = plain(x)
    u = untracked(img)
    (y.pow(2).sum() + z.mean() + w.sum() + u.pow(3).sum()).backward()
    print(bn.weight.grad, bn.bias.grad, seq_bn.weight.grad)
    print(img.grad.sum(), untracked.running_mean, plain.weight)
    bn.eval()
    with torch.no_grad():
        print(bn(x)[:2])
    print(bn(x).requires_grad, bn.training, bn)

    smooth = nn.SmoothL1Loss(beta=0.5)
    huber = nn.HuberLoss(delta=0.3, reduction="sum")
    kl = nn.KLDivLoss(reduction="batchmean")
    kl_log = nn.KLDivLoss(reduction="sum", log_target=True)
    pred = torch.randn(4, 5, requires_grad=True)
    target = torch.randn(4, 5)
    logp = torch.log_softmax(pred, dim=1)
    q = torch.softmax(target, dim=1)
    losses = [smooth(pred, target), huber(pred, target), kl(logp, q), kl_log(logp, q.log()),
              nn.Softmin(dim=1)(pred).sum(), nn.Hardtanh(-0.5, 0.25)(pred).sum(),
              nn.Hardtanh()(pred * 3).sum()]
    print([f"{v.item():.6f}" for v in losses])
    sum(losses).backward()
    print(pred.grad)
    print(smooth, huber.delta, kl.reduction, nn.Softmin(0), nn.Hardtanh(-2.0, 2.0))
    """)

TRAINING = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    from torch import optim
    from torch.nn.utils import clip_grad_norm_
    from torch.optim.lr_scheduler import CosineAnnealingLR, MultiStepLR

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(device, torch.cuda.is_available(), torch.cuda.device_count(), device.type)
    torch.cuda.manual_seed_all(0)
    torch.manual_seed(7)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)).to(device)
    head = nn.Linear(1, 1).cpu()
    x, y = torch.randn(6, 3).to(device), torch.randn(6, 1, device=device)
    opts = [optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
            optim.Adam([{"params": head.parameters(), "lr": 0.05}], lr=0.01)]
    schedulers = [optim.lr_scheduler.StepLR(opts[0], step_size=2, gamma=0.5),
                  MultiStepLR(opts[1], milestones=[2, 4], gamma=0.1),
                  optim.lr_scheduler.ExponentialLR(opts[0], gamma=0.9),
                  CosineAnnealingLR(opts[1], T_max=5, eta_min=0.001)]
    for epoch in range(6):
        for opt in opts:
            opt.zero_grad()
        loss = (head(model(x)) - y).pow(2).mean()
        loss.backward()
        norm = clip_grad_norm_(model.parameters(), max_norm=0.5)
        nn.utils.clip_grad_value_(head.parameters(), clip_value=0.01)
        for opt in opts:
            opt.step()
        for sched in schedulers:
            sched.step()
        print(epoch, f"{loss.item():.5f}", f"{norm.item():.5f}",
              [[f"{lr:.6f}" for lr in s.get_last_lr()] for s in schedulers],
              schedulers[0].last_epoch)
    for group in opts[0].param_groups:
        group["lr"] = 0.01
        group["momentum"] = 0.5
    print(opts[0].param_groups[0]["lr"], opts[1].param_groups[0]["betas"], schedulers[3].base_lrs)
    print(len(opts[0].param_groups[0]["params"]), opts[1].param_groups[0]["params"][0].shape)
    print(opts[1].param_groups[0])
    total = clip_grad_norm_(list(model.parameters()), 1.0, norm_type=float("inf"))
    print(total, next(model.parameters()).device, x.to(torch.device("cpu")).device)

    labels = torch.arange(3).repeat_interleave(2)
    counts = torch.tensor([1, 0, 3])
    print(labels, torch.repeat_interleave(counts),
          torch.repeat_interleave(x[:3], counts, dim=0).shape)
    print(x[:2].repeat_interleave(2, dim=1).shape, torch.tensor(5.0).repeat_interleave(3))
    a = torch.randn(2, 4, 3, requires_grad=True)
    b = torch.randn(5, 3)
    d = torch.cdist(a, b)
    mm = torch.addmm(torch.ones(4), torch.randn(2, 3), torch.randn(3, 4), beta=0.5, alpha=2)
    print(d.shape, torch.cdist(a, b, p=1).sum(), mm)
    d.sum().backward()
    print(a.grad)
    """)


def buffers(space: dict) -> dict[str, torch.Tensor]:
    """Every buffer (running statistics, the batch count) of every module variable."""
    return {f"{name}.{bname}": b.clone() for name, value in space.items()
            if isinstance(value, torch.nn.Module) for bname, b in value.named_buffers()}


@pytest.mark.parametrize("source", [CONTAINERS, CONVOLUTIONS, NORMS_AND_LOSSES, TRAINING],
                         ids=["containers", "convolutions", "norms-and-losses", "training"])
def test_more_of_torch_nn_runs_as_torch_runs_it(source):
    program, space = assert_runs_as_torch(source)
    ours_b, theirs_b = buffers(program.namespace), buffers(space)
    assert ours_b.keys() == theirs_b.keys()
    for key, value in theirs_b.items():
        assert torch.equal(ours_b[key], value), key


def test_a_replaced_layer_is_named_in_the_graph():
    source = textwrap.dedent("""\
        import torch
        import torch.nn as nn
        model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2))
        for p in model.parameters():
            p.requires_grad = False
        model[2] = nn.Linear(3, 1)
        loss = model(torch.ones(2, 3)).sum()
        """)
    study = make_study(source, "loss")
    leaves = sorted(n.tensor.name for n in study.graph.nodes if n.kind == "leaf")
    assert leaves == ["model.2.bias", "model.2.weight"]


@pytest.mark.parametrize("name, args, kwargs", [
    ("F.conv2d", (torch.ones(2, 3, 9, 8), torch.ones(4, 3, 3, 2)), {}),
    ("F.conv2d", (torch.ones(2, 3, 9, 8), torch.ones(6, 1, 3, 2)),
     {"stride": (2, 1), "padding": 2, "dilation": (1, 3), "groups": 3}),
    ("F.conv2d", (torch.ones(3, 9, 8), torch.ones(4, 3, 4, 4)), {"padding": "same"}),
    ("F.conv1d", (torch.ones(3, 10), torch.ones(2, 3, 3)), {"padding": "valid", "stride": 3}),
    ("F.max_pool2d", (torch.ones(1, 2, 7, 5), 3), {"stride": 2, "padding": 1,
                                                   "ceil_mode": True}),
    ("F.max_pool2d", (torch.ones(2, 7, 5), (2, 3)), {"dilation": 2, "return_indices": True}),
    ("F.max_pool1d", (torch.ones(2, 3, 9), 4, 3, 2, 1, True), {}),
    ("F.avg_pool2d", (torch.ones(1, 2, 7, 5), 2), {"stride": 3, "ceil_mode": True}),
    ("F.avg_pool1d", (torch.ones(2, 3, 9), 3), {"stride": 2, "padding": 1, "ceil_mode": True}),
    ("torch.cdist", (torch.ones(3, 4, 2), torch.ones(5, 2)), {}),
    ("torch.addmm", (torch.ones(1), torch.ones(2, 3), torch.ones(3, 4)), {}),
])
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_the_new_size_rules_give_torchs_own_sizes_and_flops(name, args, kwargs):
    """Each rule's elements are exactly what torch makes (values and indices), and its
    FLOPs are at least one per multiply-add of a window or a dot product."""
    import torch.nn.functional as F

    from autoviz.runner.costs import matmul_cost

    fn = getattr(F if name.startswith("F.") else torch, name.partition(".")[2])
    made = fn(*args, **kwargs)
    outputs = made if isinstance(made, tuple) else (made,)
    numel, flops = matmul_cost(name, args, kwargs)
    assert numel * 4 == sum(t.numel() * t.element_size() for t in outputs)
    assert flops >= outputs[0].numel()


@pytest.mark.parametrize("source, said", [
    ("m = nn.Conv2d(100000, 100000, 3)\n", "the parameters of nn.Conv2d would take"),
    ("m = nn.Conv2d(2, 2, 10**5)\n", "the parameters of nn.Conv2d would take"),
    ("m = nn.BatchNorm1d(10**8)\n", "the parameters of nn.BatchNorm1d would take"),
    ("F.conv2d(torch.ones(1, 1, 100, 100), torch.ones(100000, 1, 1, 1))\n", "would take"),
    ("F.conv2d(torch.ones(1, 1, 10, 10), torch.ones(1, 1, 3, 3), padding=10**6)\n",
     "would take"),
    ("F.conv2d(torch.ones(1, 64, 100, 100), torch.ones(512, 64, 3, 3))\n",
     "floating-point operations"),
    ("F.conv2d(torch.ones(1, 32, 256, 256, dtype=torch.float64), "
     "torch.ones(1, 32, 11, 11, dtype=torch.float64))\n", "working memory"),
    ("F.max_pool2d(torch.ones(1, 1, 2000, 2000), 1000, stride=1)\n",
     "floating-point operations"),
    ("nn.MaxPool2d(999, stride=1, padding=499)(torch.ones(1, 1, 2000, 2000))\n",
     "floating-point operations"),
    ("nn.Conv2d(1, 1, 3, padding=10**5, padding_mode='circular')(torch.ones(1, 1, 5, 5))\n",
     "the result of F.pad would take"),
    ("torch.ones(1000).repeat_interleave(10**6)\n", "would take"),
    ("torch.arange(3).repeat_interleave(torch.tensor([10**9, 1, 1]))\n", "would take"),
    ("torch.repeat_interleave(torch.arange(3), torch.tensor([1, 1, 1]), output_size=10**9)\n",
     "would take"),
    ("torch.repeat_interleave(torch.tensor([10**10]))\n", "would take"),
    ("torch.cdist(torch.ones(20000, 2), torch.ones(20000, 2))\n", "would take"),
    ("torch.cdist(torch.ones(3000, 3000), torch.ones(3000, 3000))\n",
     "floating-point operations"),
    ("torch.addmm(torch.ones(1), torch.ones(2000, 2000), torch.ones(2000, 2000))\n",
     "floating-point operations"),
    ("torch.device('cuda')\n", "CPU only"),
    ("torch.device(type='meta')\n", "CPU only"),
    ("torch.ones(2).to(torch.device('cpu')).to('meta')\n", "CPU only"),
    ("nn.Linear(2, 2).to('cuda')\n", "CPU only"),
    ("nn.Linear(2, 2).to(device='meta')\n", "CPU only"),
    ("nn.Linear(2, 2).cuda()\n", "not in autoviz's allowlist"),
    ("torch.cuda.set_device(0)\n", "not in autoviz's allowlist"),
    ("nn.utils.parameters_to_vector([torch.ones(2)])\n", "not in autoviz's allowlist"),
    ("from torch.optim.lr_scheduler import LambdaLR\n", "not in autoviz's allowlist"),
    ("m = nn.BatchNorm1d(3)\nm.running_mean = torch.ones(3)\n", "your own nn.Module class"),
    ("seq = nn.Sequential(nn.ReLU())\nseq[0] = None\n", "cannot assign items"),
    ("m = nn.Linear(2, 2)\nm.apply(nn.init.zeros_)\n", "takes the tensor to fill first"),
    ("m = nn.Linear(2, 2)\ndef f(x):\n    m.apply(f)\nm.apply(f)\n", "more than 16 deep"),
    (OPT + "torch.optim.lr_scheduler.ExponentialLR(opt, gamma=torch.ones(10**6))\n",
     "takes numbers here"),
    (OPT + "s = torch.optim.lr_scheduler.StepLR(opt, 1)\ns.step(torch.ones(3))\n",
     "takes no arguments here"),
    (OPT + "s = torch.optim.lr_scheduler.StepLR(opt, 1)\nprint(s.optimizer)\n",
     "not in autoviz's allowlist"),
    (OPT + "opt.param_groups[0]['lr'] = torch.ones(10**6)\nopt.step()\n",
     "the optimizer's 'lr' is a Tensor"),
    (OPT + "opt.param_groups[0]['betas'] = [torch.ones(10**6)]\nopt.step()\n",
     "the optimizer's 'betas' is a list"),
    (OPT + "opt.param_groups = []\n", "cannot set .param_groups"),
    (OPT + "torch.set_printoptions(threshold=10000)\n"
     "opt.param_groups[0]['params'] = [torch.ones(9000) for i in range(20)]\n"
     "print(opt.param_groups)\n",
     "turning this value into text would make more than"),
])
def test_hostile_uses_of_the_new_modules_are_refused_at_their_line(source, said):
    with pytest.raises(ProgramError) as caught:
        run_program(H + source)
    assert caught.value.refused and said in caught.value.message, caught.value.message
    assert caught.value.lineno is not None and caught.value.lineno > H.count("\n")


def test_a_module_list_is_held_under_the_cap_on_one_list():
    from autoviz.runner.limits import Limits

    source = H + "layers = nn.ModuleList()\nfor i in range(200):\n    layers.append(nn.ReLU())\n"
    with pytest.raises(ProgramError) as caught:
        run_program(source, Limits(container_items=100))
    assert caught.value.refused and "more than 100 modules" in caught.value.message
    assert caught.value.lineno == 6


def test_an_optimizers_state_is_counted_once_per_parameter():
    """SGD without momentum keeps no state: 100 steps of 4 MB must not count 400 MB."""
    source = H + textwrap.dedent("""\
        w = torch.ones(1000, 1000, requires_grad=True)
        w.grad = torch.ones(1000, 1000)
        opt = torch.optim.SGD([w], lr=0.1)
        for i in range(100):
            opt.step()
        """)
    program = run_program(source)
    assert program.namespace["w"][0, 0].item() == pytest.approx(1 - 100 * 0.1, abs=1e-4)


@pytest.mark.parametrize("source", [
    "nn.BatchNorm1d(3)(torch.ones(2, 3, 4, 5))",
    "nn.BatchNorm1d(3)(torch.ones(1, 3))",
    "nn.BatchNorm2d(3)(torch.ones(2, 2, 4, 4))",
    "nn.Conv2d(1, 1, 3)(torch.ones(1, 2, 5, 5))",
    "nn.Conv2d(1, 1, 3)(torch.ones(1, 1, 5, 5), 2)",
    "nn.MaxPool2d(2)(input=torch.ones(1, 2, 2), x=1)",
    "nn.Conv2d(2, 3, 3, groups=2)",
    "nn.ModuleList([nn.ReLU()])(torch.ones(2))",
    "nn.ModuleList([1])",
    "nn.Sequential(nn.ReLU())[0] = 5",
    "F.max_pool2d(torch.ones(1, 4, 4), 2, padding=2)",
    "F.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3), stride=2, padding='same')",
    "next(nn.Linear(2, 2).parameters(), 1, 2)",
    "next([1, 2])",
    "next(nn.Identity().parameters())",
    "torch.cuda.is_available(1)",
    "torch.device('cpu', 'x')",
    "torch.optim.lr_scheduler.StepLR(5, 1)",
    "nn.utils.clip_grad_norm_(5, 1.0)",
    "nn.utils.clip_grad_value_([torch.ones(2)], clip_value=1.0, foreach=True, x=1)",
    "torch.ones(3).repeat_interleave(-1)",
])
def test_torchs_own_errors_come_through_from_the_new_modules(source):
    program = H + source + "\n"
    with pytest.raises(Exception) as natively:
        native(program)
    with pytest.raises(ProgramError) as caught:
        run_program(program)
    assert not caught.value.refused and caught.value.lineno == 4, caught.value.message
    assert caught.value.message == f"{type(natively.value).__name__}: {natively.value}"


def test_a_param_group_prints_its_tensors_under_the_text_floor():
    from autoviz.runner.costs import text_floor

    opt = torch.optim.SGD([torch.ones(300), torch.ones(2)], lr=0.1)
    assert text_floor(opt.param_groups, 1000, 3, 10**6) >= 2 * (300 + 2)


SHARED = "m = nn.ReLU()\nfor i in range(8):\n    m = nn.Sequential(*[m] * 10)\n"


@pytest.mark.parametrize("source, said", [
    # the red team's finds: each refused before the memory or the time is spent
    ("l = nn.Linear(torch.tensor(20000), torch.tensor(20000))", "whole numbers"),
    ("l = nn.BatchNorm1d(torch.tensor(10**8))", "whole numbers"),
    ("l = nn.Embedding(torch.tensor(30000), torch.tensor(3000))", "whole numbers"),
    (SHARED + "sd = m.state_dict()", "would walk more than 100,000 submodules"),
    (SHARED + "s = str(m)", "more than 100,000 characters"),
    (SHARED + "print(m)", "more than 100,000 characters"),
    (SHARED + "for x in m.named_modules(remove_duplicate=False):\n    pass",
     "would walk more than"),
    ("m = nn.ReLU()\nfor x in m.named_modules(prefix='a' * 100000):\n    pass",
     "a prefix of more than 200 characters"),
    ("w = torch.ones(1, requires_grad=True)\nopt = torch.optim.SGD([w], lr=0.1)\n"
     "g = opt.param_groups[0]\nfor i in range(100):\n    opt.param_groups.append(g)\n"
     "opt.step()", "parameter groups"),
    ("w = torch.ones(1, requires_grad=True)\nopt = torch.optim.SGD([w], lr=0.1)\n"
     "opt.param_groups[0]['params'] = [w] * 100000\nopt.zero_grad()", "20,000 parameters"),
    ("x = torch.ones(1000, dtype=torch.float64, requires_grad=True)\n"
     "big = torch.ones(12000, dtype=torch.float64)\ndef f(t):\n    return t.sum() * big\n"
     "torch.autograd.gradcheck(f, (x,))", "Jacobians of 1,000 x 12,000"),
    ("class Net(nn.Module):\n    def extra_repr(self):\n        return 'x'", "nn.Module's own"),
    ("class Net(nn.Module):\n    def train(self, mode=True):\n        return self",
     "nn.Module's own"),
    ("class Net(nn.Module):\n    def helper(self):\n        return 1\nn = Net()\nprint(n.helper)",
     "the method helper()"),
])
def test_the_red_teams_programs_are_refused_at_their_line(source, said):
    with pytest.raises(ProgramError) as caught:
        run_program("import torch\nimport torch.nn as nn\n" + source + "\n")
    assert caught.value.refused and said in str(caught.value), str(caught.value)
    assert caught.value.lineno is not None and caught.value.lineno >= 3


@pytest.mark.parametrize("source", [
    "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.l = nn.Linear(1, 1)\ndef reinit(m):\n    super().__init__()\nreinit(Net())",
    "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        return 1\nNet()",
    "print(sorted([3, 1, 2], key=isinstance))",
])
def test_errors_python_raises_come_through_as_python_raises_them(source):
    source = "import torch\nimport torch.nn as nn\n" + source + "\n"
    with pytest.raises(Exception) as natively:
        native(source)
    with pytest.raises(ProgramError) as caught:
        run_program(source)
    assert not caught.value.refused
    assert caught.value.message == f"{type(natively.value).__name__}: {natively.value}"


def test_empty_tensors_start_at_version_zero_and_a_bound_method_can_be_a_hook():
    source = textwrap.dedent("""\
        import torch
        import torch.nn as nn
        e = torch.empty(3)
        print(e._version, torch.empty_like(e)._version, e.new_empty(2)._version)
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.seen = []
            def keep(self, g):
                self.seen.append(g.sum().item())
            def forward(self, x):
                y = x * 2
                y.register_hook(self.keep)
                return y.sum()
        n = Net()
        n(torch.ones(2, requires_grad=True)).backward()
        print(n.seen)
        """)
    printed, _ = native(source)
    assert run_program(source).output.split("\n")[1:] == printed.split("\n")[1:]
    assert run_program(source).output.split("\n")[0] == "0 0 0"  # zeros, versions untouched
