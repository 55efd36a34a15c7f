"""Torch is the oracle: autoviz must report exactly what torch's own engine does.

Every program below is run twice: natively (the test exec()s its own constant source, with a
Node hook registered on every node reachable from each ``.backward()`` root) and through
:func:`autoviz.run_program`. The order of the nodes the engine ran, what each node received
and passed on, the leaves' ``.grad``, the printed output, the warnings and the errors must
all agree. :func:`autoviz.record_backward` is also checked directly on graphs built here.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import subprocess
import sys
import textwrap
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import autoviz

PROGRAM = "<program>"
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_PRINT_FIELDS = ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")


# ---- the native side ---------------------------------------------------------------------
@dataclass
class NativeStep:
    node: Any
    name: str
    grad_inputs: tuple[torch.Tensor | None, ...]
    grad_outputs: tuple[torch.Tensor | None, ...]


@dataclass
class NativeRun:
    namespace: dict[str, Any]
    output: str
    traces: list[list[NativeStep]] = field(default_factory=list)
    warnings: list[tuple[int | None, str]] = field(default_factory=list)
    error: BaseException | None = None
    error_line: int | None = None


def _snapshot(grads: tuple) -> tuple[torch.Tensor | None, ...]:
    return tuple(None if g is None else g.detach().clone() for g in grads)


def _start_node(root: torch.Tensor) -> Any:
    if root.grad_fn is not None:
        return root.grad_fn
    if root.requires_grad:
        return torch.autograd.graph.get_gradient_edge(root).node
    return None


def reachable(root: torch.Tensor) -> list[Any]:
    """Every node reachable from ``root`` through next_functions (iterative, no recursion)."""
    start = _start_node(root)
    if start is None:
        return []
    seen = {start}
    order = [start]
    stack = [start]
    while stack:
        node = stack.pop()
        for child, _ in node.next_functions:
            if child is not None and child not in seen:
                seen.add(child)
                order.append(child)
                stack.append(child)
    return order


@contextlib.contextmanager
def hooked(root: torch.Tensor, steps: list[NativeStep]):
    """Register a Node hook on every node reachable from ``root``; remove them after."""
    handles = []

    def make_hook(node: Any) -> Callable[[tuple, tuple], None]:
        def hook(grad_inputs: tuple, grad_outputs: tuple) -> None:
            steps.append(NativeStep(node, node.name(), _snapshot(grad_inputs),
                                    _snapshot(grad_outputs)))
        return hook

    try:
        for node in reachable(root):
            handles.append(node.register_hook(make_hook(node)))
        yield steps
    finally:
        for handle in handles:
            handle.remove()


def native_backward(root: torch.Tensor, *args: Any, **kwargs: Any) -> list[NativeStep]:
    steps: list[NativeStep] = []
    with hooked(root, steps):
        root.backward(*args, **kwargs)
    return steps


def run_native(source: str) -> NativeRun:
    """exec() the test's own constant source with real torch, recording every backward."""
    run = NativeRun({}, "")
    original = torch.Tensor.backward

    def backward(self: torch.Tensor, gradient: Any = None, retain_graph: Any = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        steps: list[NativeStep] = []
        with hooked(self, steps):
            original(self, gradient, retain_graph, create_graph, inputs)
        run.traces.append(steps)

    opts = torch._tensor_str.PRINT_OPTS
    saved_opts = {f: getattr(opts, f) for f in _PRINT_FIELDS}
    threads = torch.get_num_threads()
    grad_mode = torch.is_grad_enabled()
    buffer = io.StringIO()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(buffer), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.Tensor.backward = backward
            try:
                exec(compile(source, PROGRAM, "exec"), run.namespace)  # the test's own text
            except Exception as exc:  # the oracle's own error is the expectation
                run.error = exc
                tb = exc.__traceback__
                while tb is not None:
                    if tb.tb_frame.f_code.co_filename == PROGRAM:
                        run.error_line = tb.tb_lineno
                    tb = tb.tb_next
            finally:
                torch.Tensor.backward = original
        run.warnings = [(w.lineno if w.filename == PROGRAM else None,
                         f"{w.category.__name__}: {w.message}") for w in caught]
    finally:
        torch.Tensor.backward = original
        for key, value in saved_opts.items():
            setattr(opts, key, value)
        torch.set_num_threads(threads)
        torch.set_grad_enabled(grad_mode)
    run.output = buffer.getvalue()
    return run


# ---- comparison helpers ------------------------------------------------------------------
def assert_same_tensor(got: Any, want: Any, what: str) -> None:
    if want is None:
        assert got is None, f"{what}: expected None, got {got!r}"
        return
    assert isinstance(got, torch.Tensor), f"{what}: expected a tensor, got {got!r}"
    torch.testing.assert_close(got, want, rtol=0, atol=0, equal_nan=True,
                               msg=lambda m: f"{what}: {m}")


def assert_same_grads(got: tuple, want: tuple, what: str) -> None:
    assert len(got) == len(want), f"{what}: {len(got)} entries, torch gave {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert (g is None) == (w is None), f"{what}[{i}]: None positions differ"
        assert_same_tensor(g, w, f"{what}[{i}]")


def assert_same_steps(steps: list[autoviz.Step], native: list[NativeStep], what: str) -> None:
    assert [s.name for s in steps] == [n.name for n in native], f"{what}: node order differs"
    for step, want in zip(steps, native):
        label = f"{what} step {step.index} {step.name}"
        assert_same_grads(step.grad_outputs, want.grad_outputs, f"{label} grad_outputs")
        assert_same_grads(step.grad_inputs, want.grad_inputs, f"{label} grad_inputs")


def assert_same_value(got: Any, want: Any, what: str) -> None:
    if isinstance(want, torch.Tensor):
        assert isinstance(got, torch.Tensor), f"{what}: expected a tensor, got {got!r}"
        assert_same_tensor(got.detach(), want.detach(), what)
        assert got.requires_grad == want.requires_grad, f"{what}.requires_grad"
        assert got.is_leaf == want.is_leaf, f"{what}.is_leaf"
        assert got.retains_grad == want.retains_grad, f"{what}.retains_grad"
        want_fn = None if want.grad_fn is None else want.grad_fn.name()
        got_fn = None if got.grad_fn is None else got.grad_fn.name()
        assert got_fn == want_fn, f"{what}.grad_fn"
        if want.is_leaf or want.retains_grad:
            assert_same_tensor(got.grad, want.grad, f"{what}.grad")
    elif isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), what
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same_value(g, w, f"{what}[{i}]")
    elif isinstance(want, torch.autograd.graph.Node):
        assert isinstance(got, torch.autograd.graph.Node), what
        assert got.name() == want.name(), what
    else:
        assert got == want, f"{what}: {got!r} != {want!r}"


def mask(text: str) -> str:
    return _ADDRESS.sub("0x?", text)


def assert_matches_native(source: str) -> tuple[autoviz.Program, NativeRun]:
    source = textwrap.dedent(source)
    native = run_native(source)
    assert native.error is None, f"the oracle itself failed: {native.error!r}"
    program = autoviz.run_program(source)
    # (1)+(2): one trace per backward, same node order, same gradients at every node
    assert len(program.traces) == len(native.traces)
    for i, (trace, steps) in enumerate(zip(program.traces, native.traces)):
        assert steps, "the oracle ran no node"
        assert_same_steps(trace.steps, steps, f"trace {i}")
    # (3): every variable (and so every leaf's .grad) as torch left it
    for name, value in native.namespace.items():
        if name.startswith("__") or isinstance(value, (types.ModuleType, types.FunctionType)):
            continue
        assert name in program.namespace, f"{name} missing from the namespace"
        assert_same_value(program.namespace[name], value, name)
    # (4): what print printed, and the warnings torch raised
    assert mask(program.output) == mask(native.output)
    assert [m for _, m in program.warnings] == [m for _, m in native.warnings]
    for (got_line, _), (want_line, _) in zip(program.warnings, native.warnings):
        if want_line is not None:
            assert got_line == want_line
    # (5): every step's "same step by hand" reaches the node that ran, with exactly what it
    # received, and gives exactly what the step passed on
    assert_manual_calls_match(source, native)
    return program, native


def _same(got: Any, want: Any, what: str) -> None:
    assert (got is None) == (want is None), f"{what}: None differs"
    if want is not None:
        assert got.dtype == want.dtype and got.shape == want.shape, what
        assert torch.equal(got, want) or torch.allclose(got, want, rtol=0, atol=0,
                                                        equal_nan=True), what


def assert_manual_calls_match(source: str, native: NativeRun) -> None:
    """Each step's manual call, checked natively: its ``reach`` text, run in the namespace
    the program left, gets to the very node that ran (by identity); its arguments are
    exactly what that node received; what it returns, reduced as the call says, is exactly
    what the step passed on (run natively when the graph is still there, else the result
    autoviz took while the step ran)."""
    from autoviz.lesson.lab import manual_call, run_study

    if not native.traces:
        return
    live = run_study(source)
    if live.trace is None or len(live.trace.steps) != len(native.traces[-1]):
        return  # not the program's own last backward (e.g. a later error): nothing to match
    ran = native.traces[-1]
    for k, want in enumerate(ran, 1):
        call = manual_call(live, k)
        what = f"step {k} {want.name}"
        ast.parse(call.code)  # it parses: no comment swallows a parenthesis
        if not call.reach:
            continue  # no variable reaches it: the call says so
        scope = {**native.namespace, "torch": torch}
        exec(call.reach, scope)  # text autoviz wrote for the test's own program
        assert scope["node"] is want.node, f"{what}: the call reaches another node"
        if not call.exact:
            continue
        args = eval(f"({call.args},)", scope)
        for i, (got, expected) in enumerate(zip(args, want.grad_outputs)):
            _same(got, expected, f"{what} argument {i}")
        if not call.called:
            continue
        made = live.trace.hand[k - 1]
        try:  # natively, with the graph still there
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                made = want.node(*args)
        except RuntimeError as exc:
            assert "second time" in str(exc), f"{what}: {exc}"
            assert "freed the saved tensors" in call.note, f"{what}: {call.note!r}"
        outputs = made if isinstance(made, tuple) else (made,)
        for i, (out, adjust, expected) in enumerate(zip(outputs, call.adjust,
                                                        want.grad_inputs)):
            if adjust == "None":
                out = None
            elif out is not None and adjust:
                out = eval(f"out{adjust}", {"out": out, "torch": torch})
            _same(out, expected, f"{what} slot {i}")


def assert_fails_like_native(source: str) -> autoviz.ProgramError:
    source = textwrap.dedent(source)
    native = run_native(source)
    assert native.error is not None, "the oracle ran the program without an error"
    with pytest.raises(autoviz.ProgramError) as info:
        autoviz.run_program(source)
    error = info.value
    assert error.message == f"{type(native.error).__name__}: {native.error}"
    assert error.lineno == native.error_line
    assert error.refused is False
    assert error.error_type == type(native.error).__name__
    return error


# ---- the seed tutorials ------------------------------------------------------------------
SEED_SCALAR = """\
import torch

def compute():
    a = torch.tensor([3.], requires_grad=True)
    O = 5*a**2
    return [a,O]

[a,O] = compute()
print(a)
print(O)

O.backward()
print(a.grad)

a = torch.tensor([2.], requires_grad=True)
O = 5*a**2
O.backward()
print(a.grad)
O = 5*a**2
O.backward()
print(a.grad)
a.grad.zero_()
print(a.grad)
"""

SEED_MANUAL_CALL = """\
import torch

def compute():
    a = torch.tensor([3.], requires_grad=True)
    O = 5*a**2
    return [a,O]

[a,O] = compute()
print(O.grad_fn)
print(O.grad_fn.next_functions)

temp = torch.tensor([1.])
print(O.grad_fn(temp))
print(O.grad_fn.next_functions[0][0](temp))
"""

SEED_NETWORK = """\
import torch
torch.manual_seed(0)

x = torch.ones(3)  # input tensor
w = torch.randn(3, 2, requires_grad=True)
b = torch.randn(2, requires_grad=True)
z = torch.matmul(x, w)+b
y = torch.zeros(2) # Output
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)

loss.backward()
print(w.grad)
print(b.grad)

z = torch.matmul(x, w)+b
print(z.requires_grad)

with torch.no_grad():
    z = torch.matmul(x, w)+b
print(z.requires_grad)

z = torch.matmul(x, w)+b
z_det = z.detach()
print(z_det.requires_grad)
"""

# autograd_tutorial.txt's code cells, verbatim but for the seed; its three bugs are on
# the lines marked BUG1..BUG3 (fixed one at a time below).
SEED_TUTORIAL = """\
import torch
import torch.nn.functional as F
torch.manual_seed(0)

torch.set_printoptions(sci_mode=False, linewidth=300)

x = torch.ones(5) # input tensor
y = torch.zeros(3) # expected output

w = torch.randn(5, 3, require_grad=True)
b = torch.randn(3, require_grad=True)

z = torch.matmul(x, w) + b
loss = F.binary_cross_entropy_with_logits(x, y)

print(f"Gradient function for z = {z.grad_fn}")
print(f"Gradient function for loss = {loss.grad_fn}")

loss.backward()
print(w.grad)
print(b.grad)

print(z.grad) # z is NOT a leaf node because it is created by a tensor operation on other tensors.

z = torch.matmul(x, w) + b
print(z.requires_grad)

with torch.no_grad():
    z = torch.matmul(x, w) + b
print(z.requires_grad)

# Redefine w and b
w = torch.randn(5, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)

z = torch.matmul(x, w) + b
z_det = z.detach()
print(z_det.requires_grad)

z_det.requires_grad(True) # Need ot turn on the gradient calculation for a z_det
loss = F.binary_cross_entropy_with_logits(z_det, y)
loss.backward()

print(w.grad)
print(b.grad)
"""
FIX1 = ("require_grad=True", "requires_grad=True")
FIX2 = ("F.binary_cross_entropy_with_logits(x, y)", "F.binary_cross_entropy_with_logits(z, y)")
FIX3 = ("z_det.requires_grad(True)", "z_det.requires_grad_(True)")


def _fixed(*fixes: tuple[str, str]) -> str:
    source = SEED_TUTORIAL
    for old, new in fixes:
        assert old in source
        source = source.replace(old, new)
    return source


def _line_of(source: str, text: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


def test_seed_scalar_and_accumulation():
    program, _ = assert_matches_native(SEED_SCALAR)
    assert len(program.traces) == 3
    assert [s.name for s in program.traces[0].steps] == [
        "MulBackward0", "PowBackward0", "torch::autograd::AccumulateGrad"]
    assert program.namespace["a"].grad.tolist() == [0.0]
    assert "tensor([30.])\n" in program.output and "tensor([40.])\n" in program.output


def test_seed_manual_grad_fn_call():
    program, _ = assert_matches_native(SEED_MANUAL_CALL)
    assert "(tensor([5.]), None)" in program.output


def test_seed_network_bce_no_grad_detach():
    program, _ = assert_matches_native(SEED_NETWORK)
    assert program.output.splitlines()[-3:] == ["True", "False", "False"]


def test_seed_tutorial_fixed():
    program, native = assert_matches_native(_fixed(FIX1, FIX2, FIX3))
    assert len(program.traces) == 2
    assert program.namespace["w"].grad is None  # the detached loss never reaches w
    assert any("not a leaf Tensor" in m for _, m in native.warnings)


def test_seed_bug1_require_grad_typo():
    source = _fixed()
    error = assert_fails_like_native(source)
    assert error.lineno == _line_of(source, "w = torch.randn(5, 3, require_grad=True)")
    assert error.message.startswith("TypeError: ")
    assert "require_grad" in error.message


def test_seed_bug2_bce_shape_mismatch():
    source = _fixed(FIX1)
    error = assert_fails_like_native(source)
    assert error.lineno == _line_of(source, "loss = F.binary_cross_entropy_with_logits(x, y)")
    assert error.message.startswith("ValueError: Target size")
    assert "must be the same as input size" in error.message


def test_seed_bug3_requires_grad_is_not_callable():
    source = _fixed(FIX1, FIX2)
    error = assert_fails_like_native(source)
    assert error.lineno == _line_of(source, "z_det.requires_grad(True)")
    assert error.message == "TypeError: 'bool' object is not callable"


# ---- more programs -----------------------------------------------------------------------
PROGRAMS = {
    "fan_in": """
        import torch
        a = torch.tensor([2.0, -1.0], requires_grad=True)
        b = torch.tensor([3.0, 4.0], requires_grad=True)
        y = a * b + a
        s = (y * a).sum()
        s.backward()
        print(a.grad, b.grad)
    """,
    "broadcast_bias": """
        import torch
        torch.manual_seed(1)
        X = torch.randn(4, 3)
        W = torch.randn(3, 2, requires_grad=True)
        bias = torch.randn(2, requires_grad=True)
        col = torch.randn(4, 1, requires_grad=True)
        out = X @ W + bias
        loss = (out ** 2).mean() + (out * col).sum()
        loss.backward()
        print(bias.grad, col.grad)
    """,
    "views": """
        import torch
        x = torch.arange(12.0).requires_grad_()
        v = x.view(3, 4)
        r = v.reshape(2, 6)
        t = v.t()
        tr = r.transpose(0, 1)
        u = x.view(-1, 2).mT
        weights = torch.arange(12.0).view(4, 3)
        out = (t * weights).sum() + (tr ** 2).sum() + v.T.sum() + u.flatten()[3] * 7
        out.backward()
        print(x.grad)
    """,
    "indexing_slicing": """
        import torch
        torch.manual_seed(2)
        x = torch.randn(4, 5, requires_grad=True)
        row = x[1]
        cols = x[:, 1:4:2]
        idx = torch.tensor([0, 2, 2])
        picked = x[idx]
        masked = x[x > 0]
        elem = x[3, -1]
        loss = row.sum() + (cols * 2).sum() + picked.sum() + masked.sum() * 3 + elem
        loss.backward()
        print(x.grad)
    """,
    "cat_stack": """
        import torch
        a = torch.tensor([1.0, 2.0], requires_grad=True)
        b = torch.tensor([3.0], requires_grad=True)
        c = torch.cat([a, b, a * 2])
        s = torch.stack([a, a ** 2, a.exp()], dim=1)
        loss = (c * torch.arange(5.0)).sum() + s.sum()
        loss.backward()
        print(c, s, a.grad, b.grad)
    """,
    "inplace_non_leaf": """
        import torch
        x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        y.mul_(3)
        y += 1
        y[0] = 0.5
        e = y.sin()
        e.add_(1)
        loss = (e * y).sum()
        loss.backward()
        print(y, x.grad)
    """,
    "no_grad_block": """
        import torch
        w = torch.tensor([1.0, -2.0], requires_grad=True)
        x = torch.tensor([0.5, 4.0])
        with torch.no_grad():
            scale = w * 10
            w2 = w + 1
            with torch.enable_grad():
                inner = w * 3
        y = (w * x * scale).sum() + inner.sum()
        print(scale.requires_grad, w2.requires_grad, inner.requires_grad, y.requires_grad)
        y.backward()
        with torch.no_grad():
            w -= 0.1 * w.grad
        print(w, w.grad, torch.is_grad_enabled())
    """,
    "detach_cut": """
        import torch
        a = torch.tensor([1.0, 2.0], requires_grad=True)
        h = a * 3
        h_det = h.detach()
        out = (h * h_det).sum() + (a.detach() * a).sum()
        out.backward()
        print(a.grad, h_det.requires_grad, h_det.is_leaf)
    """,
    "frozen_parameter": """
        import torch
        torch.manual_seed(3)
        frozen = torch.randn(3, 2)
        also_frozen = torch.randn(2, requires_grad=True)
        also_frozen.requires_grad = False
        head = torch.randn(2, 1, requires_grad=True)
        x = torch.randn(4, 3)
        h = torch.relu(x @ frozen + also_frozen)
        out = (h @ head).sum()
        out.backward()
        print(frozen.grad, also_frozen.grad, head.grad)
    """,
    "non_scalar_gradient": """
        import torch
        x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x ** 3
        y.backward(torch.tensor([1.0, 0.1, 0.01]))
        print(x.grad)
        m = torch.ones(2, 2, requires_grad=True)
        n = m * m.t()
        n.backward(gradient=torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        print(m.grad)
    """,
    "float64": """
        import torch
        torch.manual_seed(4)
        x = torch.randn(3, dtype=torch.float64, requires_grad=True)
        w = torch.tensor([0.1, 0.2, 0.3], dtype=torch.double, requires_grad=True)
        y = (x * w).sin().sum() + (x.float().double() ** 2).mean()
        y.backward()
        print(x.grad.dtype, x.grad, w.grad)
    """,
    "mlp_softmax_cross_entropy": """
        import torch
        import torch.nn.functional as F
        torch.manual_seed(5)
        X = torch.randn(6, 4)
        target = torch.tensor([0, 2, 1, 1, 0, 2])
        W1 = torch.randn(4, 8, requires_grad=True)
        b1 = torch.zeros(8, requires_grad=True)
        W2 = torch.randn(8, 3, requires_grad=True)
        b2 = torch.zeros(3, requires_grad=True)
        h = torch.tanh(X @ W1 + b1)
        logits = h @ W2 + b2
        probs = F.softmax(logits, dim=1)
        loss = F.cross_entropy(logits, target) + (probs[:, 0] ** 2).mean()
        loss.backward()
        print(loss.item())
        print(W1.grad.shape, b2.grad)
    """,
    "micrograd_tanh_neuron": """
        import torch
        x1 = torch.tensor([2.0]).double()
        x1.requires_grad = True
        x2 = torch.tensor([0.0]).double()
        x2.requires_grad = True
        w1 = torch.tensor([-3.0]).double()
        w1.requires_grad = True
        w2 = torch.tensor([1.0]).double()
        w2.requires_grad = True
        b = torch.tensor([6.8813735870195432]).double()
        b.requires_grad = True
        n = x1*w1 + x2*w2 + b
        o = torch.tanh(n)
        print(o.data.item())
        o.backward()
        print('---')
        print('x2', x2.grad.item())
        print('w2', w2.grad.item())
        print('x1', x1.grad.item())
        print('w1', w1.grad.item())
    """,
    "relu_sigmoid": """
        import torch
        import torch.nn.functional as F
        x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], requires_grad=True)
        r = torch.relu(x)
        s = torch.sigmoid(x)
        lk = F.leaky_relu(x, 0.1)
        g = x.relu() * x.sigmoid()
        out = (r * 2 + s + lk + g).sum()
        out.backward()
        print(x.grad)
    """,
    "reductions": """
        import torch
        x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 6.0, 5.0]], requires_grad=True)
        total = x.sum()
        col = x.sum(dim=0)
        row_mean = x.mean(dim=1, keepdim=True)
        top = x.max()
        vals = torch.max(x, dim=1).values
        out = total + (col * row_mean.sum()).sum() + top + vals.sum() + x.mean() + x.prod()
        out.backward()
        print(x.grad)
    """,
    "retain_grad_intermediate": """
        import torch
        a = torch.tensor([1.0, 2.0], requires_grad=True)
        h = a * a
        h.retain_grad()
        o = (h * 3).sum()
        o.backward()
        print(h.grad, h.retains_grad, a.grad)
    """,
    "pow_exp_log": """
        import torch
        x = torch.tensor([0.5, 1.0, 1.5], requires_grad=True)
        y = torch.log(torch.exp(x ** 2) + 1) ** 0.5
        z = y.exp().log1p() / x.pow(3) - torch.sqrt(x) * 2 ** x
        out = z.sum()
        out.backward()
        print(x.grad)
    """,
    "user_def": """
        import torch

        def linear(x, w, b):
            return x @ w + b

        def mse(pred, target):
            diff = pred - target
            return (diff ** 2).mean()

        torch.manual_seed(6)
        x = torch.randn(5, 2)
        w = torch.randn(2, 1, requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        target = torch.randn(5, 1)
        loss = mse(linear(x, w, b), target)
        loss.backward()
        print(loss, w.grad, b.grad)
    """,
    "for_loop_chain": """
        import torch
        x = torch.tensor([0.3, -0.2], requires_grad=True)
        h = x
        for i in range(5):
            h = torch.sin(h) * (i + 1) + x
        loss = h.sum()
        loss.backward()
        print(x.grad)
    """,
    "training_loop": """
        import torch
        torch.manual_seed(7)
        X = torch.randn(8, 3)
        true_w = torch.tensor([[1.0], [-2.0], [0.5]])
        Y = X @ true_w
        w = torch.zeros(3, 1, requires_grad=True)
        for step in range(3):
            loss = ((X @ w - Y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                w -= 0.1 * w.grad
            w.grad.zero_()
            print(step, loss.item())
    """,
    "multi_output_nodes": """
        import torch
        x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        a, b = x.chunk(2)
        p, q, r, s = x.unbind()
        loss = (a * 2).sum() + p * q
        loss.backward()
        print(x.grad)
    """,
    "retain_graph_twice": """
        import torch
        a = torch.tensor([1.0, 3.0], requires_grad=True)
        y = (a ** 2).sum()
        y.backward(retain_graph=True)
        first = a.grad.clone()
        y.backward()
        print(first, a.grad)
    """,
    "backward_inputs": """
        import torch
        w = torch.tensor([1.0, 2.0], requires_grad=True)
        b = torch.tensor([0.5], requires_grad=True)
        loss = (w * 3 + b).sum()
        loss.backward(inputs=[w])
        print(w.grad, b.grad)
    """,
    "leaf_root": """
        import torch
        a = torch.tensor([1.0, 2.0], requires_grad=True)
        a.backward(torch.tensor([0.5, 2.0]))
        print(a.grad)
    """,
    "random_factories": """
        import torch
        torch.manual_seed(3)
        p = torch.rand(4)
        m = torch.bernoulli(p)
        n = torch.normal(torch.zeros(3), torch.ones(3))
        i = torch.randint(0, 10, (3,))
        q = torch.randperm(5)
        w = torch.randn(4, requires_grad=True)
        noise = torch.randn_like(w)
        (w * m + noise * w).sum().backward()
        print(m, n, i, q, w.grad)
    """,
    "grad_and_data_assignment": """
        import torch
        w = torch.tensor([1.0, 2.0], requires_grad=True)
        loss = (w * w).sum()
        loss.backward()
        w.data = w.data - 0.5 * w.grad
        w.grad = None
        loss2 = (w * 2).sum()
        loss2.backward()
        print(w, w.grad)
    """,
    "grad_fn_objects": """
        import torch
        a = torch.ones(2, requires_grad=True)
        b = a * 3
        acc = b.grad_fn.next_functions[0][0]
        print(acc.name(), acc.variable is a, b.grad_fn.name())
        print(b.grad_fn.next_functions)
        c = b.sum()
        c.backward()
    """,
    "log_softmax_nll": """
        import torch
        import torch.nn.functional as F
        torch.manual_seed(2)
        logits = torch.randn(3, 4, requires_grad=True)
        t = torch.tensor([1, 0, 3])
        loss = F.nll_loss(F.log_softmax(logits, dim=-1), t)
        loss.backward()
        print(loss)
    """,
    "def_returning_tuple_and_sum_of_list": """
        import torch

        def two(a):
            return a * 2, a.exp()

        x = torch.tensor([1.0, 2.0], requires_grad=True)
        p, q = two(x)
        ys = []
        for i in range(3):
            ys.append(p * i)
        total = sum(ys) + q
        total.sum().backward()
        print(x.grad, len(ys))
    """,
    "inplace_through_views_of_non_leaf": """
        import torch
        x = torch.ones(2, 3, requires_grad=True)
        y = x * 1
        v = y[:, 1]
        v.mul_(5)
        y.t()[0].add_(2)
        (y * torch.arange(6.0).view(2, 3)).sum().backward()
        print(y, x.grad)
    """,
    "inference_mode_and_set_grad_enabled_block": """
        import torch
        a = torch.ones(2, requires_grad=True)
        with torch.inference_mode():
            b = a * 2
        with torch.set_grad_enabled(False):
            c = a * 2
        d = (a * 3).sum()
        d.backward()
        print(b.requires_grad, c.requires_grad, a.grad)
    """,
    "positional_backward_arguments": """
        import torch
        x = torch.tensor([1.0, 2.0], requires_grad=True)
        y = (x.exp() * x).sum()
        y.backward(None, True)
        y.backward(torch.tensor(2.0))
        print(x.grad)
    """,
    # the programs below found autoviz bugs (see the report)
    "set_grad_enabled_as_a_call": """
        import torch
        a = torch.ones(2, requires_grad=True)
        torch.set_grad_enabled(False)
        b = a * 2
        torch.set_grad_enabled(True)
        c = (a * 3).sum()
        c.backward()
        print(b.requires_grad, a.grad)
    """,
    "user_def_keyword_arguments": """
        import torch

        def f(a, b):
            return a * b

        x = torch.tensor([1.0, 2.0], requires_grad=True)
        y = f(a=x, b=x + 1).sum()
        y.backward()
    """,
    "no_grad_update_of_leaf_item": """
        import torch
        w = torch.ones(3, requires_grad=True)
        loss = (w * w).sum()
        loss.backward()
        with torch.no_grad():
            w[0] += 1
            w[1:] -= 0.5 * w.grad[1:]
        print(w)
    """,
    "clamp_where_mse": """
        import torch
        import torch.nn.functional as F
        x = torch.tensor([-1.5, -0.2, 0.4, 2.5], requires_grad=True)
        c = x.clamp(-1.0, 1.0)
        w = torch.where(x > 0, x * 2, x ** 2)
        loss = F.mse_loss(c + w, torch.zeros(4)) + x.abs().sum()
        loss.backward()
        print(x.grad)
    """,
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_matches_native(name: str):
    assert_matches_native(PROGRAMS[name])


def test_fan_in_contributions_sum_to_what_the_node_received():
    program, _ = assert_matches_native(PROGRAMS["fan_in"])
    steps = program.traces[0].steps
    assert steps[0].fan_in[0].from_node is None  # the root gets backward()'s own gradient
    many = [s for s in steps if len(s.fan_in) > 1]
    assert many, "a is used three times: its AccumulateGrad must show fan-in"
    for step in many:
        total = sum(c.grad for c in step.fan_in)
        torch.testing.assert_close(total, step.grad_outputs[0])
        for contribution in step.fan_in:
            assert steps[contribution.from_step].node_id == contribution.from_node


def test_multi_output_none_positions():
    program, _ = assert_matches_native(PROGRAMS["multi_output_nodes"])
    by_name = {s.name: s for s in program.traces[0].steps}
    assert by_name["UnbindBackward0"].grad_outputs[2:] == (None, None)
    assert by_name["SplitBackward0"].grad_outputs[1] is None


# ---- programs that must fail as torch/Python fail ----------------------------------------
FAILING = {
    "second_backward_without_retain": """
        import torch
        a = torch.tensor([1.0, 3.0], requires_grad=True)
        y = (a.exp() ** 2).sum()
        y.backward()
        y.backward()
    """,
    "non_scalar_without_gradient": """
        import torch
        a = torch.tensor([1.0, 3.0], requires_grad=True)
        y = a * 2
        y.backward()
    """,
    "backward_without_grad": """
        import torch
        a = torch.tensor([1.0, 3.0])
        loss = (a * 2).sum()
        loss.backward()
    """,
    "inplace_breaks_saved_tensor": """
        import torch
        x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x.sigmoid()
        y.mul_(2)
        y.sum().backward()
    """,
    "inplace_on_leaf": """
        import torch
        a = torch.ones(2, requires_grad=True)
        a.add_(1)
    """,
    "matmul_shapes": """
        import torch
        torch.manual_seed(0)
        p = torch.randn(2, 3, requires_grad=True)
        q = p @ torch.randn(2, 3)
    """,
    "name_error": """
        import torch
        a = torch.ones(2)
        b = a + c
    """,
    "user_def_missing_argument": """
        import torch

        def f(a, b):
            return a + b

        c = f(torch.ones(1))
    """,
    "user_def_too_many_arguments": """
        import torch

        def f(a):
            return a

        c = f(torch.ones(1), 2)
    """,
    "second_backward_after_retain_graph_false": """
        import torch
        x = torch.tensor([1.0, 2.0], requires_grad=True)
        y = (x.exp() * x).sum()
        y.backward(retain_graph=False)
        y.backward()
    """,
    "error_inside_def": """
        import torch

        def flatten5(t):
            doubled = t * 2
            return doubled.view(5)

        x = torch.ones(2, 3, requires_grad=True)
        y = flatten5(x)
    """,
}


@pytest.mark.parametrize("name", sorted(FAILING))
def test_program_fails_like_native(name: str):
    assert_fails_like_native(FAILING[name])


def test_unavailable_import_is_refused():
    with pytest.raises(autoviz.ProgramError) as info:
        autoviz.run_program("import torch, torchvision\n")
    assert info.value.refused and info.value.lineno == 1


# ---- record_backward on graphs built here ------------------------------------------------
def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def build_mlp() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    g = _gen()
    x = torch.randn(4, 3, generator=g)
    w = torch.randn(3, 2, generator=g, requires_grad=True)
    b = torch.randn(2, generator=g, requires_grad=True)
    out = torch.tanh(x @ w + b)
    loss = (out * out).mean() + w.sum()
    return loss, {"w": w, "b": b}


def build_fan_in() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    a = torch.tensor([2.0, -1.0, 0.5], requires_grad=True)
    b = torch.tensor([3.0, 4.0, -2.0], requires_grad=True)
    y = a * b + a
    loss = (y * a).sum() + (a ** 2).mean()
    return loss, {"a": a, "b": b}


def build_multi_output() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    first, _ = x.chunk(2)
    p, q, _, _ = x.unbind()
    return (first * 2).sum() + p * q, {"x": x}


def build_inplace() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.mul_(3)
    y[0] = 0.5
    return (y.exp() * y).sum(), {"x": x}


def build_float64_cat() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    a = torch.tensor([0.1, 0.2], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    c = torch.cat([a.sin(), b, a * b])
    return torch.stack([c, c ** 2]).log1p().sum(), {"a": a, "b": b}


def build_frozen() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    g = _gen(1)
    frozen = torch.randn(3, 2, generator=g)
    head = torch.randn(2, generator=g, requires_grad=True)
    x = torch.randn(5, 3, generator=g)
    return torch.relu(x @ frozen).mul(head).sigmoid().sum(), {"frozen": frozen, "head": head}


BUILDERS = {f.__name__: f for f in (build_mlp, build_fan_in, build_multi_output,
                                    build_inplace, build_float64_cat, build_frozen)}


def resolve_path(path: str, env: dict[str, torch.Tensor]) -> Any:
    """Follow a Step.path (``root.grad_fn.next_functions[i][0]...``) to the node object."""
    match = re.fullmatch(r"torch\.autograd\.graph\.get_gradient_edge\((\w+)\)\.node(.*)", path)
    if match:
        node = torch.autograd.graph.get_gradient_edge(env[match[1]]).node
    else:
        match = re.fullmatch(r"(\w+)\.grad_fn(.*)", path)
        assert match, f"unexpected path {path!r}"
        node = env[match[1]].grad_fn
    rest = match[2]
    assert re.fullmatch(r"(\.next_functions\[\d+\]\[0\])*", rest), f"unexpected path {path!r}"
    for index in re.findall(r"\[(\d+)\]\[0\]", rest):
        node = node.next_functions[int(index)][0]
    return node


def _leaf_grads(leaves: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | None]:
    return {k: None if v.grad is None else v.grad.clone() for k, v in leaves.items()}


@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_record_backward_matches_native(builder: str):
    build = BUILDERS[builder]
    root1, _ = build()
    native = native_backward(root1)
    root2, leaves2 = build()
    plain_root, plain_leaves = build()
    plain_root.backward()
    trace = autoviz.record_backward(root2)
    assert_same_steps(trace.steps, native, builder)
    assert [s.index for s in trace.steps] == list(range(len(trace.steps)))
    assert len({s.node_id for s in trace.steps}) == len(trace.steps)
    for step in trace.steps:
        assert trace.graph.node(step.node_id).torch_name == step.name
        assert trace.graph.node(step.node_id).path == step.path
        assert trace.step_of(step.node_id) is step
    for name, grad in _leaf_grads(plain_leaves).items():
        assert_same_tensor(leaves2[name].grad, grad, f"{name}.grad")
    for node in trace.graph.leaves():
        leaf = resolve_path(node.path, {"root": root2}).variable
        assert_same_tensor(trace.leaf_grads[node.id], leaf.grad, f"leaf_grads[{node.id}]")


@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_record_backward_paths_reach_the_very_node(builder: str):
    root, _ = BUILDERS[builder]()
    seen: list[NativeStep] = []
    with hooked(root, seen):  # our hooks run first, so seen[i] is the node of steps[i]
        trace = autoviz.record_backward(root, root_name="loss")
    assert len(seen) == len(trace.steps)
    for step, mine in zip(trace.steps, seen):
        assert step.path.startswith("loss.grad_fn")
        assert resolve_path(step.path, {"loss": root}) is mine.node


def test_record_backward_default_path_prefix_and_leaf_root():
    root, _ = build_fan_in()
    trace = autoviz.record_backward(root)
    assert trace.steps[0].path == "root.grad_fn"
    leaf = torch.tensor([1.0, 2.0], requires_grad=True)
    gradient = torch.tensor([0.5, 2.0])
    native_leaf = leaf.detach().clone().requires_grad_()
    native = native_backward(native_leaf, gradient)
    trace = autoviz.record_backward(leaf, gradient, root_name="a")
    assert_same_steps(trace.steps, native, "leaf root")
    assert resolve_path(trace.steps[0].path, {"a": leaf}) is \
        torch.autograd.graph.get_gradient_edge(leaf).node
    assert_same_tensor(leaf.grad, gradient, "leaf.grad")


@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_record_backward_accumulates_onto_existing_grad(builder: str):
    build = BUILDERS[builder]
    root1, leaves1 = build()
    root2, leaves2 = build()
    for leaves in (leaves1, leaves2):
        for leaf in leaves.values():
            if leaf.requires_grad:
                leaf.grad = torch.full_like(leaf, 0.25)
    root1.backward()
    autoviz.record_backward(root2)
    for name in leaves1:
        assert_same_tensor(leaves2[name].grad, leaves1[name].grad, f"{name}.grad")


def test_record_backward_twice_retains_and_accumulates():
    root1, leaves1 = build_mlp()
    root1.backward(retain_graph=True)
    root1.backward()
    root2, leaves2 = build_mlp()
    first = autoviz.record_backward(root2)
    second = autoviz.record_backward(root2)
    assert [s.name for s in first.steps] == [s.name for s in second.steps]
    for a, b in zip(first.steps, second.steps):
        assert_same_grads(a.grad_inputs, b.grad_inputs, a.name)
    for name in leaves1:
        assert_same_tensor(leaves2[name].grad, leaves1[name].grad, f"{name}.grad")
    assert first.retain_graph is True


def test_record_backward_gradient_for_non_scalar_root():
    def build() -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
        return (x * x.t()).sin(), x

    gradient = torch.tensor([[1.0, 0.5], [-1.0, 2.0]])
    root1, x1 = build()
    native = native_backward(root1, gradient)
    root2, x2 = build()
    trace = autoviz.record_backward(root2, gradient)
    assert_same_steps(trace.steps, native, "gradient=")
    assert_same_tensor(x2.grad, x1.grad, "x.grad")
    assert_same_tensor(trace.gradient, gradient, "trace.gradient")
    root_step = trace.steps[0]
    assert root_step.fan_in[0].from_node is None
    assert_same_tensor(root_step.fan_in[0].grad, gradient, "root contribution")


def test_record_backward_non_scalar_without_gradient_raises_torch_error():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError) as native:
        (x.detach().clone().requires_grad_() * 2).backward()
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar "
                       "outputs") as info:
        autoviz.record_backward(y)
    assert str(info.value) == str(native.value)
    assert x.grad is None
    # the graph is intact after the failed call: a plain backward still works
    y.backward(torch.ones(3))
    assert_same_tensor(x.grad, torch.full((3,), 2.0), "x.grad")


def test_record_backward_without_retain_graph_frees_the_graph():
    root, leaves = build_mlp()
    trace = autoviz.record_backward(root, retain_graph=False)
    assert trace.retain_graph is False
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second "
                       "time"):
        root.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second "
                       "time"):
        autoviz.record_backward(root)
    native_root, native_leaves = build_mlp()
    native_root.backward()
    for name in leaves:
        assert_same_tensor(leaves[name].grad, native_leaves[name].grad, f"{name}.grad")


def test_record_backward_inputs_and_retain_grad():
    root1, leaves1 = build_mlp()
    native = native_backward(root1, inputs=[leaves1["w"]])
    root2, leaves2 = build_mlp()
    trace = autoviz.record_backward(root2, inputs=[leaves2["w"]])
    assert_same_steps(trace.steps, native, "inputs=")
    assert leaves2["b"].grad is None
    assert_same_tensor(leaves2["w"].grad, leaves1["w"].grad, "w.grad")

    a1 = torch.tensor([1.0, 2.0], requires_grad=True)
    h1 = a1 * a1
    h1.retain_grad()
    (h1 * 3).sum().backward()
    a2 = torch.tensor([1.0, 2.0], requires_grad=True)
    h2 = a2 * a2
    h2.retain_grad()
    autoviz.record_backward((h2 * 3).sum())
    assert_same_tensor(h2.grad, h1.grad, "h.grad")
    assert_same_tensor(a2.grad, a1.grad, "a.grad")


def test_warning_raised_during_backward_is_kept_with_its_line():
    # torch warns about create_graph=True once per process, so this runs in a fresh one
    code = (
        "import autoviz\n"
        "p = autoviz.run_program('import torch\\nx = torch.tensor([1., 2.], "
        "requires_grad=True)\\n(x**3).sum().backward(create_graph=True)\\n')\n"
        "print(p.warnings)\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert "(3, 'UserWarning: Using backward() with create_graph=True" in out


# ---- the trace keeps the engine's own gradient tensors: nothing may change them later -----
def _trace_tensors(trace: autoviz.BackwardTrace) -> list[torch.Tensor]:
    found = [g for step in trace.steps for g in (*step.grad_inputs, *step.grad_outputs)]
    found += [c.grad for step in trace.steps for c in step.fan_in]
    found += [*trace.leaf_grads.values(), trace.gradient]
    return [t for t in found if t is not None]


def _storage(tensor: torch.Tensor) -> int | None:
    return tensor.untyped_storage().data_ptr() if tensor.numel() else None


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_recorded_grads_share_no_memory_with_what_the_program_holds(name: str):
    program = autoviz.run_program(textwrap.dedent(PROGRAMS[name]))
    held: set[int | None] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # .grad of a non-leaf warns
        for value in program.namespace.values():
            for tensor in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(tensor, torch.Tensor):
                    held.add(_storage(tensor))
                    if tensor.grad is not None:
                        held.add(_storage(tensor.grad))
    held.discard(None)
    for trace in program.traces:
        for tensor in _trace_tensors(trace):
            assert _storage(tensor) not in held
            assert not tensor.requires_grad


def _fan_in_leaf() -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
    a = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    b = torch.tensor([3.0, 1.0, 2.0], requires_grad=True)
    return (a * 2 + a * b + a.exp() + b).sum(), [a, b], None  # a's grad is a sum


def _pass_through() -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
    a = torch.tensor([1.0, -2.0], requires_grad=True)
    b = torch.tensor([3.0, 1.0], requires_grad=True)
    return a + b, [a, b], torch.tensor([0.5, 2.0])  # AddBackward hands on gradient itself


def _leaf_root() -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
    a = torch.tensor([1.0, -2.0], requires_grad=True)
    return a, [a], torch.tensor([0.5, 2.0])


def _scalar_leaf_root() -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
    a = torch.tensor(1.5, requires_grad=True)
    return a, [a], None


def _views_of_grad() -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
    a = torch.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
    h = torch.cat([a, a * 2]).t().reshape(-1)  # cat/t/reshape pass views of the grad on
    return h, [a], torch.arange(8.0)


@pytest.mark.parametrize("build", [_fan_in_leaf, _pass_through, _leaf_root, _scalar_leaf_root,
                                   _views_of_grad], ids=lambda f: f.__name__.strip("_"))
def test_recorded_grads_survive_later_in_place_changes(build: Callable[[], Any]):
    """What each hook saw stays as it was when .grad, the gradient passed in or a leaf is
    changed in place afterwards, and when a second backward accumulates into .grad."""
    root, leaves, gradient = build()
    native_root, native_leaves, native_gradient = build()
    native = native_backward(native_root, native_gradient, retain_graph=True)
    trace = autoviz.record_backward(root, gradient)
    assert_same_steps(trace.steps, native, build.__name__)
    before = [t.clone() for t in _trace_tensors(trace)]
    for leaf in leaves:
        leaf.grad.mul_(-3.0)
    if gradient is not None:
        gradient.add_(5.0)
    second = autoviz.record_backward(root, gradient)  # AccumulateGrad adds into .grad in place
    with torch.no_grad():
        for leaf in leaves:
            leaf.grad.zero_()
            leaf.add_(1.0)
    assert_same_steps(trace.steps, native, build.__name__)
    for old, now in zip(before, _trace_tensors(trace)):
        assert_same_tensor(now, old, "a recorded tensor")
    assert len(second.steps) == len(trace.steps)


def test_create_graph_records_detached_grads():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_graph=True warns about a reference cycle
        trace = autoviz.record_backward((x ** 3).sum(), create_graph=True)
    assert x.grad is not None and x.grad.requires_grad
    for tensor in _trace_tensors(trace):
        assert not tensor.requires_grad
    assert_same_tensor(trace.leaf_grads["n2"], torch.tensor([3.0, 12.0]), "x.grad")
    x.grad = None


# ---- observing never changes the observed ------------------------------------------------
# Reading a view's grad_fn after its base changed in place makes torch give the view a new
# node there and then, with an earlier sequence number than the program's own use would,
# and the engine orders by those. Programs of views, in-place ops, aliases and reads run
# natively and through autoviz must show the same engine order.

VIEW_STEPS = [
    "v = y[:2]", "w = y[2:]", "y.mul_(2)", "v.mul_(3)", "w.add_(1)", "alias = v",
    "other = w", "c = v.contiguous()", "q = y[2:].exp()", "r = v * 3", "s = w.sin()",
    "t = alias * 2", "u = other.cos()", "y[0] = y[3]", "k = v.grad_fn", "z = y.t()",
    "e = y.view(2, 2)[0]", "m = v.is_leaf", "y += 1",
]
VIEW_START = ("import torch\nx = torch.ones(4, requires_grad=True)\ny = x * 1\nv = y[:2]\n"
              "w = y[2:]\n")
VIEW_END = ("loss = y.sum() + v.sum() + w.sum() + alias.sum() + other.sum() + q.sum() "
            "+ r.sum() + s.sum() + t.sum() + u.sum() + c.sum() + e.sum()\nloss.backward()\n")


@pytest.mark.parametrize("source", [
    pytest.param(VIEW_START + "y.mul_(2)\nalias = v\nq = y[2:].exp()\nr = alias * 3\n"
                 "loss = r.sum() + q.sum()\nloss.backward()\n", id="alias-after-in-place"),
    pytest.param(VIEW_START + "y.mul_(2)\nc = v.contiguous()\nq = y[2:].exp()\nr = v * 3\n"
                 "loss = r.sum() + q.sum()\nloss.backward()\n", id="contiguous-view"),
])
def test_observing_a_changed_view_keeps_torchs_order(source: str) -> None:
    assert_matches_native(source)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(VIEW_STEPS), min_size=1, max_size=10))
def test_view_and_in_place_programs_keep_torchs_order(steps: list[str]) -> None:
    names = "alias other q r s t u c e".split()
    source = (VIEW_START + "".join(f"{n} = x.sum()\n" for n in names) + "\n".join(steps)
              + "\n" + VIEW_END)
    native = run_native(source)
    if native.error is not None:
        assert_fails_like_native(source)
    else:
        assert_matches_native(source)


# ---- Python's evaluation order -----------------------------------------------------------
# Each program fails in two places; CPython's order decides which error comes first.
ORDER = {
    "augassign-subscript": "import torch\nw = torch.ones(2, requires_grad=True)\n"
                           "with torch.no_grad():\n    w[2] += 0.1 * w.grad\n",
    "augassign-name-first": "y += undefined_right\n",
    "augassign-list": "a = [1, 2]\na[5] += undefined_right\n",
    "augassign-attribute": "undefined_object.grad += undefined_right\n",
    "subscript-object-first": "z = undefined_object[undefined_index]\n",
    "subscript-index-before-lookup": "a = [1]\nz = a[undefined_index]\n",
    "store-value-first": "undefined_object[0] = undefined_value\n",
    "store-object-before-index": "undefined_object[undefined_index] = 1\n",
    "binop-left-first": "z = undefined_left + undefined_right\n",
    "call-function-first": "z = undefined_function(undefined_argument)\n",
    "call-arguments-in-order": "z = len(undefined_first, undefined_second)\n",
    "call-keyword-after-positional": "z = max(undefined_first, key=undefined_second)\n",
    "method-attribute-first": "import torch\nz = torch.ones(2).no_such_method(undefined)\n",
    "chained-comparison-stops": "z = 2 < 1 < undefined_never\nq = undefined_after\n",
    "chained-comparison-order": "z = 1 < undefined_middle < undefined_last\n",
    "bool-op-short-circuit": "z = [] and undefined_never\nq = undefined_second or 1\n",
    "unpack-before-targets": "a, b = undefined_value\n",
    "unpack-count-first": "a, b = [1, 2, 3]\n",
    "unpack-targets-in-order": "x = [1]\nx[5], y = 1, 2\n",
    "slice-parts-in-order": "a = [1, 2]\nz = a[undefined_lower:undefined_upper]\n",
    "fstring-parts-in-order": "z = f'{undefined_first}{undefined_second}'\n",
    "list-items-in-order": "z = [undefined_first, undefined_second]\n",
    "for-iterable-once": "for i in undefined_iterable:\n    undefined_body\n",
}


@pytest.mark.parametrize("source", ORDER.values(), ids=ORDER.keys())
def test_errors_come_in_cpythons_evaluation_order(source: str) -> None:
    assert_fails_like_native(source)
