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
from autoviz.runner.program import run_program

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
    printed, space = native(source)
    program = run_program(source)
    assert program.output == printed
    ours, theirs = parameters(program.namespace), parameters(space)
    assert ours.keys() == theirs.keys() and ours
    for key, (value, grad) in theirs.items():
        assert torch.equal(ours[key][0], value), key
        assert (grad is None and ours[key][1] is None) or torch.equal(ours[key][1], grad), key


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
    ("Module = nn.Linear\nclass Net(Module):\n    pass\n", "can only be called here"),
    ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.__dict__ = 1\nNet()\n", "names starting with '_' are not allowed"),
    ("m = nn.Linear(2, 2)\nm.weight = nn.Parameter(torch.ones(2, 2))\n",
     "set attributes in your own nn.Module class"),
    ("m = nn.Linear(2, 2)\nprint(m._parameters)\n", "names starting with '_'"),
    ("m = nn.Linear(2, 2)\nm.apply(print)\n", "not in autoviz's allowlist"),
    ("m = nn.Linear(2, 2)\nm.register_forward_hook(print)\n", "not in autoviz's allowlist"),
    ("m = nn.Linear(20000, 20000)\n", "the parameters of nn.Linear would take"),
    ("m = nn.Embedding(10**7, 64)\n", "the parameters of nn.Embedding would take"),
    ("m = nn.Linear(2, 2, device='meta')\n", "CPU only"),
    ("m = nn.Conv2d(1, 1, 3)\n", "not in autoviz's allowlist"),
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
