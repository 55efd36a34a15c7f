"""Hostile programs against :func:`autoviz.run_program`.

The demo runs programs written by anyone, so every case here is something an attacker
(or a careless user) might type: reaching Python's or torch's internals, getting hold of
a module or function as a value, syntax autoviz does not support, programs that would
eat the machine's memory or CPU, and programs that would leave something behind (files,
process-wide torch state). Each must end in :class:`autoviz.ProgramError` with a line
number and a message in plain words, quickly, and without doing the work first.

Hostile runs happen under a lowered address-space limit (:func:`memory_ceiling`), so a
case that slips past autoviz fails fast with ENOMEM instead of taking the machine's
memory. Cases that only autoviz's clock can stop, and cases that may crash the
interpreter, run in a forked child that is killed at the time bound (:func:`run_forked`).

Cases that fail here are autoviz weaknesses, kept on purpose: fix autoviz, not the test.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import re
import resource
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autoviz import Limits, Program, ProgramError, run_program

FAST = 2.0  # seconds: a generous bound for any refusal
GiB = 2**30
PWNED = Path("/tmp/autoviz_pwned")
T = "import torch\n"
TF = "import torch\nimport torch.nn.functional as F\n"

_TRACEBACK = re.compile(r'Traceback \(most recent call last\)|File "[^"]*", line \d+')
# Internal names such as _GradModeCall or _Lazy; a quoted user name ('__class__') is fine.
_PRIVATE = re.compile(r"(?<![\w'\"])_[A-Za-z][A-Za-z0-9]*")
_OUT_OF_MEMORY = re.compile(r"out of memory|can't allocate|Cannot allocate|^MemoryError", re.I)


# ---- helpers ---------------------------------------------------------------------------


def _vm_size() -> int | None:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(r"VmSize:\s+(\d+) kB", status)
    return int(match.group(1)) * 1024 if match else None


@contextlib.contextmanager
def memory_ceiling(extra: int = 3 * GiB) -> Iterator[None]:
    """Let this process map at most ``extra`` more bytes while the block runs."""
    vm = _vm_size()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if vm is None or (hard != resource.RLIM_INFINITY and hard < vm + extra):
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (vm + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def assert_plain(err: ProgramError, *, refused: bool | None = True) -> None:
    """The error reads as plain words: no traceback, no internal names, a real message."""
    message = err.message
    assert isinstance(message, str) and message.strip(), f"empty message: {err!r}"
    assert not _TRACEBACK.search(message), f"traceback text in message: {message!r}"
    assert str(err).endswith(message)
    if err.refused:
        assert "\n" not in message.strip(), f"multi-line refusal: {message!r}"
        assert " at 0x" not in message, f"object repr in message: {message!r}"
        assert not _PRIVATE.search(message), f"internal name in message: {message!r}"
    if refused is not None:
        assert err.refused is refused, (
            f"refused={err.refused!r}, expected {refused!r}: {err.lineno}: {message!r}")


def assert_line(err: ProgramError, expected: Any) -> None:
    allowed = expected if isinstance(expected, (set, frozenset)) else {expected}
    assert err.lineno in allowed, (
        f"line {err.lineno!r}, expected {sorted(allowed, key=str)}: {err.message!r}")


def run_hostile(source: str, limits: Limits | None = None) -> tuple[ProgramError, float]:
    """Run ``source`` under the memory ceiling; it must raise ProgramError."""
    start = time.perf_counter()
    with memory_ceiling(), pytest.raises(ProgramError) as info:
        run_program(source, limits)
    return info.value, time.perf_counter() - start


def refused_quickly(source: str, lineno: Any, *, limits: Limits | None = None,
                    refused: bool | None = True, seconds: float = FAST) -> ProgramError:
    """``source`` is refused at ``lineno`` in under ``seconds``, before doing the work."""
    err, elapsed = run_hostile(source, limits)
    assert not _OUT_OF_MEMORY.search(err.message), (
        f"autoviz let the allocation happen (it failed on its own): {err.message!r}")
    assert_plain(err, refused=refused)
    assert_line(err, lineno)
    assert elapsed < seconds, f"took {elapsed:.2f} s (bound {seconds} s): {err.message!r}"
    return err


def _forked_child(conn: Any, source: str) -> None:
    try:
        run_program(source)
        conn.send(("ran", None, None, ""))
    except ProgramError as exc:
        conn.send(("error", exc.lineno, exc.refused, exc.message))
    except BaseException as exc:  # reported to the parent as an escape
        conn.send(("escaped", None, None, f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def run_forked(source: str, timeout: float) -> tuple[tuple | None, float]:
    """Run ``source`` in a forked child, killed after ``timeout`` s.

    Returns ``(result, elapsed)``: ``result`` is what :func:`_forked_child` sent, ``None``
    when the child was still running at ``timeout``, or ``("crashed", exitcode, ...)`` when
    it died without answering (a segfault takes the whole demo server with it).
    """
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_forked_child, args=(sender, source), daemon=True)
    start = time.perf_counter()
    proc.start()
    sender.close()
    try:
        if receiver.poll(timeout):
            try:
                result: tuple | None = receiver.recv()
            except EOFError:
                proc.join()
                result = ("crashed", proc.exitcode, None, f"child exit code {proc.exitcode}")
        else:
            result = None
    finally:
        elapsed = time.perf_counter() - start
        if proc.is_alive():
            proc.kill()
        proc.join()
        receiver.close()
    return result, elapsed


def _print_options() -> tuple:
    opts = torch._tensor_str.PRINT_OPTS
    return (opts.precision, opts.threshold, opts.edgeitems, opts.linewidth, opts.sci_mode)


@pytest.fixture(autouse=True)
def _isolate_torch_state() -> Iterator[None]:
    """Whatever autoviz leaks in one case must not spill into the next (or other files)."""
    grad, rng, opts = torch.is_grad_enabled(), torch.get_rng_state(), _print_options()
    filters = list(warnings.filters)
    yield
    torch.set_grad_enabled(grad)
    torch.set_rng_state(rng)
    printer = torch._tensor_str.PRINT_OPTS
    (printer.precision, printer.threshold, printer.edgeitems, printer.linewidth,
     printer.sci_mode) = opts
    warnings.filters[:] = filters


@pytest.fixture(scope="module", autouse=True)
def _warm_up() -> None:
    """Pay torch's one-time lazy imports (meta kernels, autograd) before anything is timed."""
    run_program(T + "x = torch.randn(3, requires_grad=True)\ny = (x @ x).sum()\n"
                "y.backward()\nz = torch.zeros(2).expand(3, 2)\nprint(torch.ones(1))\n")


# ---- escaping to Python's and torch's internals -------------------------------------

ESCAPES = [
    pytest.param("b = ().__class__.__bases__", 1, id="tuple-class-bases"),
    # x.__class__ and type(x) are an opaque class: its __name__, nothing else
    pytest.param(T + "x = torch.ones(1)\nc = x.__class__.__bases__", 3, id="tensor-class"),
    pytest.param(T + "x = torch.ones(1)\nc = x.__class__.mro()", 3, id="tensor-class-mro"),
    pytest.param(T + "c = torch._C", 2, id="torch._C"),
    pytest.param(T + "f = getattr(torch, 'ones')", 2, id="getattr"),
    pytest.param("os = __import__('os')", 1, id="__import__"),
    pytest.param("g = globals()", 1, id="globals"),
    pytest.param("f = open('/tmp/f', 'w')", 1, id="open"),
    pytest.param("import os", 1, id="import-os"),
    pytest.param("from os import system", 1, id="from-os-import-system"),
    pytest.param("import torch.hub", 1, id="import-torch.hub"),
    pytest.param("from torch import hub", 1, id="from-torch-import-hub"),
    pytest.param("from torch import *", 1, id="from-torch-import-star"),
    pytest.param("import torch.utils.data", 1, id="import-torch.utils"),
    pytest.param(T + "x = torch.load('/etc/passwd')", 2, id="torch.load"),
    pytest.param(T + "torch.save(torch.ones(1), '/tmp/f')", 2, id="torch.save"),
    pytest.param(T + "y = torch.ops.aten.add(torch.ones(1), 1)", 2, id="torch.ops"),
    pytest.param(T + "m = torch.nn.Module()", 2, id="torch.nn.Module"),
    pytest.param(T + "g = torch.compile(None)", 2, id="torch.compile"),
    pytest.param(T + "j = torch.jit.script(None)", 2, id="torch.jit"),
    pytest.param(T + "g = torch.autograd.graph", 2, id="torch.autograd"),
    pytest.param(TF + "d = F.__dict__", 3, id="F.__dict__"),
    pytest.param(TF + "t = F.torch", 3, id="F.torch"),
    pytest.param("import torch as t\nc = t._C", 2, id="aliased-torch._C"),
    pytest.param(T + "t = type(torch.ones(1)).__subclasses__()", 2, id="type"),
    pytest.param(T + "t = type(torch.ones(1))('x')", 2, id="type-called"),
    pytest.param("r = eval('1')", 1, id="eval"),
    pytest.param("exec('x = 1')", 1, id="exec"),
    pytest.param("c = compile('1', 'f', 'eval')", 1, id="compile"),
    pytest.param("v = vars()", 1, id="vars"),
    pytest.param("d = dir()", 1, id="dir"),
    pytest.param("l = locals()", 1, id="locals"),
    pytest.param("breakpoint()", 1, id="breakpoint"),
    pytest.param("s = input()", 1, id="input"),
    pytest.param("o = object()", 1, id="object"),
    pytest.param("help()", 1, id="help"),
    pytest.param("s = print.__self__", 1, id="print.__self__"),
    pytest.param("s = 'x'.format", 1, id="str.format"),
    pytest.param("s = f'{().__class__.__base__}'", 1, id="fstring-dunder"),
    pytest.param(T + "a = torch.ones(1).numpy()", 2, id="numpy"),
    pytest.param(T + "p = torch.ones(1).data_ptr()", 2, id="data_ptr"),
    pytest.param(T + "s = torch.ones(1).untyped_storage()", 2, id="storage"),
    pytest.param(T + "x = torch.ones(1)\ny = x.apply_(print)", 3, id="apply_"),
    pytest.param(T + "x = torch.ones(1, requires_grad=True)\nh = x.register_hook(print)", 3,
                 id="tensor-register_hook"),
    pytest.param(T + "x = torch.ones(1, requires_grad=True)\nn = (x * 2).grad_fn\n"
                 "h = n.register_hook(print)", 4, id="node-register_hook"),
    pytest.param(T + "x = torch.ones(1, requires_grad=True)\nn = (x * 2).grad_fn\n"
                 "m = n.metadata", 4, id="node-metadata"),
    pytest.param(T + "d = torch.float32.to_complex()", 2, id="dtype-method"),
    pytest.param(T + "torch.set_default_dtype(torch.float64)", 2, id="set_default_dtype"),
    pytest.param(T + "torch.set_num_threads(64)", 2, id="set_num_threads"),
    pytest.param(T + "x = torch.ones(1)\nx.__dict__['a'] = 1", 3, id="dunder-dict-assign"),
    pytest.param("def f(a):\n    return a\nc = f.__code__", 3, id="function-__code__"),
    pytest.param("def f(a):\n    return a\nb = f.body", 3, id="user-function-internals"),
    pytest.param("e = enumerate([1])\ni = e.iterator", 2, id="lazy-internals"),
    pytest.param(T + "r = torch.max(torch.ones(2), 0)\nc = r.count(1)", 3,
                 id="return-type-method"),
]


@pytest.mark.parametrize(("source", "lineno"), ESCAPES)
def test_escape_to_internals_is_refused(source: str, lineno: int) -> None:
    refused_quickly(source, lineno)


# ---- modules and functions are never values -----------------------------------------

HANDOUTS = [
    pytest.param(T + "t = torch", 2, id="t=torch"),
    pytest.param(T + "f = torch.randn\nL = [f]", 3, id="f=torch.randn"),
    pytest.param(T + "print(torch)", 2, id="print(torch)"),
    pytest.param(TF + "x = F", 3, id="x=F"),
    pytest.param(T + "x = torch.ones(2)\nm = x.sum", 3, id="bound-method"),
    pytest.param(T + "fs = [torch.exp]", 2, id="[torch.exp]"),
    pytest.param(T + "t = (torch, 1)", 2, id="tuple-of-module"),
    pytest.param("p = print", 1, id="p=print"),
    pytest.param("e = enumerate", 1, id="e=enumerate"),
    pytest.param(T + "def f(a):\n    return torch\nm = f(1)", 3, id="return-module"),
    pytest.param(T + "def f(a):\n    return a\nm = f(torch.exp)\nprint(m)", 5,
                 id="pass-function"),
    pytest.param(T + "y = torch if True else None", 2, id="ifexp-module"),
    pytest.param(T + "a = torch.exp or 1", 2, id="boolop-function"),
    pytest.param(T + "g = torch.no_grad()", 2, id="store-grad-mode"),
    pytest.param(T + "x = torch.ones(1, requires_grad=True)\nk = (x * 2).grad_fn.name", 3,
                 id="node-method-unbound"),
    pytest.param(T + "s = f'{torch.exp}'", 2, id="fstring-function"),
    pytest.param(T + "fs = []\nfs.append(torch.exp)", 3, id="append-function"),
    pytest.param(T + "for f in [torch.exp, torch.log]:\n    pass", 2, id="iterate-functions"),
    pytest.param(T + "x = torch.stack([torch.ones(1), torch.exp])", 2, id="function-in-call"),
    pytest.param(T + "x = torch.ones(2)\nprint(*[x.sum])", 3, id="starred-method"),
]


@pytest.mark.parametrize(("source", "lineno"), HANDOUTS)
def test_modules_and_functions_are_not_values(source: str, lineno: int) -> None:
    refused_quickly(source, lineno)


# ---- syntax autoviz does not run ----------------------------------------------------

SYNTAX = [
    pytest.param("class A:\n    pass", 1, id="class"),
    pytest.param("x = 1\nwhile True:\n    pass", 2, id="while-True"),
    pytest.param("try:\n    pass\nexcept* ValueError:\n    pass", 1, id="try-star"),
    pytest.param("def f(a):\n    global y\n    return a", 2, id="global"),
    pytest.param("def f(a):\n    nonlocal a\n    return a", 2, id="nonlocal"),
    pytest.param("if (n := 10) > 5:\n    pass", 1, id="walrus"),
    pytest.param("with open('/tmp/f', 'w') as f:\n    pass", 1, id="with-open-as"),
    pytest.param("async def f(a):\n    return a", 1, id="async-def"),
    pytest.param("def f(a):\n    yield a", 2, id="yield"),
    pytest.param("def d(f):\n    return f\n@d\ndef g(a):\n    return a", {3, 4},
                 id="decorator"),
    pytest.param("match 1:\n    case 1:\n        pass", 1, id="match"),
    pytest.param("x = [1, 2]\na, *b, *c = x", 2, id="starred-assign"),
    pytest.param("kw = [1]\nprint(**kw)", 2, id="kwargs-unpacking"),
    pytest.param("x = 1 << 3", 1, id="shift"),
    pytest.param("x = b'abc'", 1, id="bytes"),
    pytest.param("return 1", 1, id="top-level-return"),
    pytest.param("x = 1\nx.real = 2", 2, id="attribute-assign"),
    pytest.param("if False:\n    import os", 2, id="unreached-import"),
]


@pytest.mark.parametrize(("source", "lineno"), SYNTAX)
def test_forbidden_syntax_is_refused(source: str, lineno: Any) -> None:
    refused_quickly(source, lineno)


# ---- resource exhaustion: refused quickly, before the work ----------------------------

NESTED_LIST = "a = [0] * 50000\nfor i in range({n}):\n    a = [a, a]\n"

RESOURCES = [
    pytest.param(T + "x = torch.randn(20000, 20000) @ torch.randn(20000, 20000)", 2, None,
                 id="matmul-20000"),
    pytest.param(T + "a = torch.randn(20000, 20000)\nb = torch.randn(20000, 20000)\nc = a @ b",
                 2, None, id="matmul-20000-split"),
    pytest.param(T + "x = torch.ones(20000, 20000)", 2, None, id="ones-20000x20000"),
    pytest.param(T + "a = torch.ones(3000, 3000)\nb = a @ a", 3, None, id="matmul-flops"),
    pytest.param(T + "x = torch.zeros(10**9)", 2, None, id="zeros-1e9"),
    pytest.param(T + "s = torch.ones(1).expand(10**6, 10**6).sum()", 2, None, id="expand-1e12"),
    pytest.param("x = 2**10**10", 1, None, id="2**10**10"),
    pytest.param("x = 10**10**10", 1, None, id="10**10**10"),
    pytest.param("x = [0]*10**9", 1, None, id="list-repeat"),
    pytest.param("x = 'a'*10**9", 1, None, id="str-repeat"),
    pytest.param("x = list(range(10**9))", 1, None, id="list-range"),
    pytest.param(T + "x = torch.tensor([[0]*100000]*100000)", 2, None, id="tensor-nested-list"),
    pytest.param("for i in range(10**9):\n    pass", {1, 2}, None, id="statement-cap"),
    pytest.param("def f(n):\n    return f(n + 1)\nf(0)", {2, 3}, None, id="recursion"),
    pytest.param("x = " + "(" * 5000 + "1" + ")" * 5000, {None, 1}, None, id="nested-parens"),
    pytest.param("x = " + "-" * 15000 + "1", {None, 1}, None, id="nested-unary-minus"),
    pytest.param("x = 1" + " + 1" * 4000, {None, 1}, None, id="long-binop-chain"),
    pytest.param("x = [1]" + "[0]" * 5000, {None, 1}, None, id="long-subscript-chain"),
    pytest.param("x = 1\n" * 180_000, None, None, id="1MB-source"),
    pytest.param(T + "x = torch.arange(10**10)", 2, None, id="arange-1e10"),
    pytest.param(T + "x = torch.ones(2)\ny = x.repeat(100000, 100000)", 3, None, id="repeat"),
    pytest.param(T + "torch.set_printoptions(profile='full')", 2, None, id="profile-full"),
    pytest.param(T + "torch.set_printoptions(threshold=10**9)", 2, None, id="threshold-huge"),
    pytest.param(T + "torch.set_printoptions(threshold=float('inf'))", 2, None,
                 id="threshold-inf"),
    pytest.param("s = f'{1:>1000000000}'", 1, None, id="fstring-width"),
    pytest.param("w = 10**9\ns = f'{1:>{w}}'", 2, None, id="fstring-nested-width"),
    pytest.param("s = f'{1.5:.100000f}'", 1, None, id="fstring-precision"),
    pytest.param("for i in range(10**6):\n    print('x' * 1000)", 2, None, id="print-loop"),
    pytest.param("for i in range(10**6):\n    print(i)", 2, None, id="print-loop-small"),
    # found while writing these tests: each is refused before the work, or not at all
    pytest.param(T + "x = torch.zeros(1)\ny = torch.zeros(10**12, out=x)", 3, None,
                 id="out=-resize"),
    pytest.param(T + "y = torch.normal(torch.zeros(10**6, 1), torch.ones(1, 10**6))", 2, None,
                 id="normal-broadcast"),
    pytest.param(T + "y = torch.diag(torch.ones(1), 10**6)", 2, None, id="diag-offset"),
    pytest.param(T + "y = torch.ones(10**6).diag()", 2, None, id="diag-of-vector"),
    pytest.param(T + "y = torch.repeat_interleave(torch.tensor([10**12]))", 2, None,
                 id="repeat_interleave-data"),
    pytest.param(TF + "y = F.one_hot(torch.tensor([10**12]))", 3, None, id="one_hot-data"),
    pytest.param(T + "y = torch.masked_select(torch.ones(10**6, 1), "
                 "torch.ones(1, 10**6).bool())", 2, None, id="masked_select-broadcast"),
    pytest.param(T + "s = 'a' * torch.tensor(10**10)", 2, None, id="str-times-tensor"),
    pytest.param(T + "s = [0] * torch.tensor(10**10)", 2, None, id="list-times-tensor"),
    pytest.param('s = "a" * 100000\nt = f"{s}{s}{s}{s}{s}{s}{s}{s}{s}{s}"', 2, None,
                 id="fstring-concat"),
    pytest.param(T + "x = torch.zeros(200000).tolist()", 2, None, id="tolist-over-cap"),
    pytest.param(T + "x = torch.zeros(120000).unbind()", 2, None, id="unbind-over-cap"),
    pytest.param(T + "x = torch.zeros(10)[range(200000)]", 2, None, id="index-with-range"),
    pytest.param(NESTED_LIST.format(n=8) + "b = [0] * 50000\nfor i in range(8):\n"
                 "    b = [b, b]\nc = a == b", 3, None, id="shared-list-compare"),
    # caps scaled down so the work that slips through stays small
    pytest.param(TF + "y = F.bilinear(torch.randn(100, 100), torch.randn(100, 100), "
                 "torch.randn(10, 100, 100))", 3, Limits(op_flops=1e7), id="bilinear-flops"),
    pytest.param(T + "y = torch.norm(torch.randn(200, 200), p='nuc')", 2,
                 Limits(op_flops=1e6), id="nuclear-norm-svd"),
    pytest.param(T + "a = torch.randn(1, 100, requires_grad=True)\nb = torch.randn(100, 100)\n"
                 "y = a @ b\ng = y.grad_fn(torch.ones(100, 100))", 5, Limits(op_flops=1e6),
                 id="node-call-flops"),
    pytest.param(T + "x = torch.zeros(10**5, requires_grad=True)\ny = x\n"
                 "for i in range(30):\n    y = y.view(10**5)\ny.sum().backward()", 6,
                 Limits(total_bytes=4 * 10**6), id="backward-snapshots"),
    pytest.param(T + "x = torch.zeros(10**5, requires_grad=True)\ny = (x * 2).sum()\n"
                 "for i in range(20):\n    y.backward(retain_graph=True)", 5,
                 Limits(total_bytes=4 * 10**6), id="backward-traces-pile-up"),
]


@pytest.mark.parametrize(("source", "lineno", "limits"), RESOURCES)
def test_resource_exhaustion_is_refused_quickly(source: str, lineno: Any,
                                                limits: Limits | None) -> None:
    # Python's own SyntaxError for absurd nesting is a fine answer too (refused=False).
    nested = source.startswith("x = (") or source.startswith("x = -")
    refused_quickly(source, lineno, limits=limits, refused=None if nested else True)


# Work inside one statement that autoviz's clock cannot interrupt: with a 0.25 s budget a
# correct runner stops within a second; these would run for minutes at full size.
CLOCK = Limits(seconds=0.25)
SLOW = [
    pytest.param(NESTED_LIST.format(n=8) + "print(a)", 3, CLOCK, id="shared-list-print"),
    pytest.param(T + "x = torch.zeros(1).new_tensor(range(2 * 10**7))", 2,
                 Limits(seconds=0.25, tensor_bytes=4 * 10**4), id="new_tensor-range"),
]


@pytest.mark.parametrize(("source", "lineno", "limits"), SLOW)
def test_work_within_one_statement_respects_the_clock(source: str, lineno: Any,
                                                      limits: Limits) -> None:
    refused_quickly(source, lineno, limits=limits)  # FAST: a loaded CI box is slow too


@pytest.mark.parametrize("option", [
    "threshold=10**9", "threshold=float('inf')", "threshold=torch.inf", "threshold=torch.nan",
    "threshold=torch.tensor(10**9)", "edgeitems=10**6", "edgeitems=torch.tensor(10**6)",
])
def test_print_options_cannot_unsummarize_big_tensors(option: str) -> None:
    """Refused at the set_printoptions line, or big tensors still print summarized."""
    source = T + f"torch.set_printoptions({option})\ns = str(torch.zeros(10**4))\n"
    try:
        with memory_ceiling():
            program = run_program(source)
    except ProgramError as err:
        assert_plain(err)
        assert_line(err, 2)
        return
    text = program.namespace["s"]
    assert len(text) < 2000, f"a 10,000-element tensor printed in full ({len(text):,} chars)"


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="needs fork to stop a runaway program")
@pytest.mark.parametrize("source", [
    pytest.param(T + "x = torch.ones(1, requires_grad=True)\ny = x\n"
                 "for i in range(300000):\n    y = y * 1.0", id="graph"),
])
def test_loop_of_300k_tensor_ops_is_refused_quickly(source: str) -> None:
    # the kill timeout is generous because a loaded CI machine is slow; what matters is
    # that a cap (graph depth/nodes), not the 10 s clock, stops the loop
    result, elapsed = run_forked(source, timeout=8.0)
    assert result is not None, f"still running after {elapsed:.1f} s (killed)"
    kind, lineno, refused, message = result
    assert kind == "error", f"{kind}: {message}"
    assert refused is True and message.strip(), message
    assert lineno in {3, 4, 5}, (lineno, message)
    assert "longer than" not in message and "graph" in message, message


DEEP_LIST = "a = 0\nfor i in range(100000):\n    a = [a]\n"


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="needs fork to survive a crash")
@pytest.mark.parametrize("source", [
    pytest.param(T + DEEP_LIST + "t = torch.zeros(3)[a]", id="index"),
    pytest.param(T + "x = torch.zeros(3)\n" + DEEP_LIST + "x[a] = 1", id="setitem"),
])
def test_deeply_nested_list_index_does_not_crash_the_process(source: str) -> None:
    result, elapsed = run_forked(source, timeout=10.0)
    assert result is not None, f"still running after {elapsed:.1f} s (killed)"
    kind, _lineno, _refused, message = result
    assert kind == "error", f"{kind}: {message}"


# ---- no side effects --------------------------------------------------------------------

WRITERS = [
    pytest.param(f"f = open('{PWNED}', 'w')", 1, id="open"),
    pytest.param(f"with open('{PWNED}', 'w'):\n    pass", 1, id="with-open"),
    pytest.param(f"with open('{PWNED}', 'w') as f:\n    pass", 1, id="with-open-as"),
    pytest.param(T + f"x = torch.ones(2)\ntorch.save(x, '{PWNED}')", 3, id="torch.save"),
    pytest.param(T + f"x = torch.from_file('{PWNED}', True, 10)", 2, id="torch.from_file"),
    pytest.param(T + f"x = torch.ones(2)\nx.numpy().tofile('{PWNED}')", 3, id="numpy-tofile"),
    pytest.param(T + f"x = torch.ones(2)\nif x.sum() > 0:\n    torch.save(x, '{PWNED}')", 4,
                 id="save-in-branch"),
]


@pytest.mark.parametrize(("source", "lineno"), WRITERS)
def test_programs_that_write_files_leave_nothing(source: str, lineno: int) -> None:
    PWNED.unlink(missing_ok=True)
    refused_quickly(source, lineno)
    assert not PWNED.exists(), f"{PWNED} was created"


def test_static_refusal_runs_no_line_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple] = []
    real_ones = torch.ones

    def spy(*args: Any, **kwargs: Any) -> torch.Tensor:
        calls.append(args)
        return real_ones(*args, **kwargs)

    monkeypatch.setattr(torch, "ones", spy)
    # If lines 1-2 ran, line 2 would itself be refused (output cap), at line 2.
    source = ("import torch\nfor i in range(10**6):\n    print(torch.ones(1000))\n"
              "global q\n")
    err = refused_quickly(source, 4)
    assert calls == [], "lines before the refused line ran"
    err = refused_quickly("x = 1\ny = 2\nimport os\n", 3)
    assert "os" in err.message


# ---- process-wide torch state is the same after a run --------------------------------

GRAD_PROGRAMS = [
    pytest.param(T + "torch.set_grad_enabled(False)\ny = 1 / 0", id="set-then-fail"),
    pytest.param(T + "with torch.set_grad_enabled(False):\n    y = 1 / 0", id="with-set"),
    pytest.param(T + "with torch.no_grad():\n    y = 1 / 0", id="no_grad-fail"),
    pytest.param(T + "with torch.inference_mode():\n    y = torch.ones(1) + 'a'",
                 id="inference_mode-fail"),
    pytest.param(T + "def f(a):\n    with torch.no_grad():\n        return f(a)\nf(1)",
                 id="no_grad-recursion"),
    pytest.param(T + "torch.set_grad_enabled(True)\ny = 1 / 0", id="enable-then-fail"),
]


@pytest.mark.parametrize("outside", [True, False], ids=["grad-on", "grad-off"])
@pytest.mark.parametrize("source", GRAD_PROGRAMS)
def test_grad_mode_is_restored(source: str, outside: bool) -> None:
    torch.set_grad_enabled(outside)
    with pytest.raises(ProgramError) as info:
        run_program(source)
    assert_plain(info.value, refused=None)
    assert torch.is_grad_enabled() is outside
    assert not torch.is_inference_mode_enabled()


def test_program_rng_does_not_touch_the_process_rng() -> None:
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    source = (T + "torch.manual_seed(0)\na = torch.randn(3)\nb = torch.rand(2)\n"
              "c = torch.randint(0, 9, (4,))\nd = torch.randperm(5)\n"
              "e = torch.randn_like(a)\nf = torch.bernoulli(torch.full((3,), 0.5))\n"
              "g = torch.normal(torch.zeros(2), torch.ones(2))\n")
    first = run_program(source)
    assert torch.equal(torch.get_rng_state(), before), "the process-wide RNG moved"
    second = run_program(source)
    for name in "abcdefg":
        assert torch.equal(first.namespace[name], second.namespace[name]), name
    # and without manual_seed the program still leaves the process RNG alone
    run_program(T + "x = torch.randn(5)\ny = torch.rand_like(x)\n")
    assert torch.equal(torch.get_rng_state(), before), "the process-wide RNG moved"


def test_print_options_are_unchanged() -> None:
    sample = torch.tensor([1.23456789, 2.0])
    text, opts = str(sample), _print_options()
    program = run_program(T + "torch.set_printoptions(precision=1)\n"
                          "print(torch.tensor([1.23456789]))\n")
    assert program.output == "tensor([1.2])\n"  # the program saw its own options
    assert _print_options() == opts, "torch's print options changed for the whole process"
    assert str(sample) == text


def test_print_options_are_unchanged_after_a_failing_program() -> None:
    opts = _print_options()
    with pytest.raises(ProgramError):
        run_program(T + "torch.set_printoptions(linewidth=40, precision=2)\ny = 1 / 0\n")
    assert _print_options() == opts, "torch's print options changed for the whole process"


def test_warnings_filters_are_unchanged() -> None:
    filters = list(warnings.filters)
    program = run_program(T + "x = torch.ones(2, requires_grad=True)\ny = x * 2\ng = y.grad\n")
    assert program.warnings, "expected torch's .grad-of-non-leaf warning to be recorded"
    assert list(warnings.filters) == filters


# ---- odd but legal input: only ProgramError comes out --------------------------------

OK = "ok"  # the program runs to the end
ODD = [
    pytest.param("", OK, id="empty"),
    pytest.param("# only a comment\n   # and another\n", OK, id="only-comments"),
    pytest.param("print()", OK, id="print()"),
    pytest.param("\ufeffx = 1", {None, 1}, id="bom"),  # Python itself refuses a str BOM
    pytest.param("x = 1\r\ny = 2\r\n", OK, id="crlf"),
    pytest.param("x = [1]\nx.append(x)\nprint(x)", OK, id="self-referential-list"),
    pytest.param("print(1, sep=None, end=None)", OK, id="print-none-sep"),
    pytest.param("x = round(1.5, 10**9)", OK, id="round-huge-ndigits"),
    pytest.param(T + "x = torch.ones(2, requires_grad=True)\nn = (x * 2).grad_fn\nr = n(None)",
                 OK, id="node-call-none"),
    pytest.param(T + "torch.set_grad_enabled(False)\nx = torch.ones(1, requires_grad=True)\n"
                 "print((x * 2).requires_grad)", OK, id="set_grad_enabled-statement"),
    pytest.param("x = None\nx.foo", 2, id="none-attribute"),
    pytest.param("1/0", 1, id="zero-division"),
    pytest.param(T + "torch.tensor([1.]).view(5)", 2, id="bad-view"),
    pytest.param("a, b = 1", 1, id="unpack-int"),
    pytest.param("x = 1\nx()", 2, id="call-int"),
    pytest.param("x = 1\ny = x(2)(3)", 2, id="call-int-chain"),
    pytest.param(T + "y = torch.view(torch.ones(1), 1)", 2, id="allowlisted-but-missing"),
    pytest.param("x\x00 = 1", {None, 1}, id="nul-byte"),
    pytest.param("x = '\ud800'\nprint(x)", {None, 1, 2}, id="lone-surrogate"),
    pytest.param("x = 1\n\tif x:\n  pass", 2, id="bad-indent"),
    pytest.param("break", 1, id="top-level-break"),
    pytest.param("continue", 1, id="top-level-continue"),
    pytest.param("for i in 5:\n    pass", 1, id="iterate-int"),
    pytest.param("def f(a):\n    return a\nf()", 3, id="missing-argument"),
    pytest.param("x = [1]\ny = x[5]", 2, id="index-error"),
    pytest.param("x = 'a' + 1", 1, id="str-plus-int"),
    pytest.param("x = undefined_name", 1, id="name-error"),
    pytest.param(T + "x = torch.ones(2)\nx.grad_fn.name()", 3, id="none-grad_fn"),
    pytest.param(T + "torch.ones(2).backward()", 2, id="backward-no-grad"),
    pytest.param(T + "x = torch.ones(2, 2)\nx[0] = torch.ones(3)", 3, id="setitem-shape"),
    pytest.param("y = int('x')", 1, id="int-of-str"),
    pytest.param("y = max()", 1, id="max-no-args"),
    pytest.param("y = range(1.5)", 1, id="range-float"),
    pytest.param("y = len(5)", 1, id="len-int"),
    pytest.param(T + "y = torch.ones(1) + 'a'", 2, id="tensor-plus-str"),
    pytest.param(T + "y = torch.zeros(-1)", 2, id="negative-size"),
    pytest.param(T + "x = torch.ones(3)\nx.grad = 5", 3, id="grad-assign-int"),
    pytest.param("x = 1\nx += None", 2, id="augassign-none"),
    pytest.param(T + "with torch.no_grad:\n    pass", 2, id="with-uncalled"),
    pytest.param(T + "x = torch.ones(2, requires_grad=True)\nn = (x * 2).grad_fn\nr = n()", 4,
                 id="node-call-no-args"),
    pytest.param("x = 10**18 * 10**18", 1, id="int-product-over-cap"),
    pytest.param("x = int(1e308)", 1, id="int-of-huge-float"),
    pytest.param("x = float('nan')\ny = int(x)", 2, id="int-of-nan"),
    pytest.param(T + "x = torch.tensor([1, 2])\ny = x[torch.tensor([5])]", 3,
                 id="index-out-of-range"),
    pytest.param(T + "x = torch.ones(2)\ny = x.to('cuda')", 3, id="to-cuda"),
    pytest.param(T + "x = torch.ones(2).to('meta')\ny = x.item()", 2, id="meta-item"),
    pytest.param(T + "x = [1]\nx.append(x)\nt = torch.tensor(x)", 4, id="tensor-of-cycle"),
    pytest.param(T + "x = torch.ones(2, requires_grad=True)\ny = (x * 2).sum()\n"
                 "y.backward()\ny.backward()", 5, id="second-backward"),
]


@pytest.mark.parametrize(("source", "expected"), ODD)
def test_odd_but_legal_input_only_raises_program_error(source: str, expected: Any) -> None:
    start = time.perf_counter()
    try:
        with memory_ceiling():
            program = run_program(source)
    except ProgramError as err:
        assert expected != OK, f"refused a legal program at line {err.lineno}: {err.message!r}"
        assert_plain(err, refused=None)
        assert_line(err, expected)
    else:
        assert expected == OK, f"ran to the end; expected an error at line {expected}"
        assert isinstance(program, Program)
        assert not any(isinstance(v, type(torch)) or callable(v) and not isinstance(
            v, torch.autograd.graph.Node) for v in program.namespace.values())
    assert time.perf_counter() - start < FAST


@pytest.mark.parametrize("source", [None, b"x = 1", 42, ["x = 1"]], ids=repr)
def test_source_that_is_not_text(source: Any) -> None:
    with pytest.raises(ProgramError) as info:
        run_program(source)
    assert_plain(info.value, refused=None)


# ---- caps that count what is really spent ----------------------------------------------
# Each class of the hardening issue: the input that triggers it, refused before the work,
# and a property per class where one fits (torch, run natively by the test, is the oracle).

LEAF = T + "x = torch.ones(4, requires_grad=True)\nz = x * 1\n"
SHALLOW = Limits(graph_depth=300)
INPLACE = [
    pytest.param(LEAF + "for i in range(400):\n    z += 1", "z += 1"),
    pytest.param(LEAF + "for i in range(400):\n    z.mul_(1.0)", "mul_"),
    pytest.param(LEAF + "for i in range(400):\n    z.sigmoid_()", "sigmoid_"),
    pytest.param(LEAF + "for i in range(400):\n    z.clamp_(-9, 9)", "clamp_"),
    pytest.param(LEAF + "for i in range(400):\n    z[0] = z[1]", "setitem"),
    pytest.param(LEAF + "for i in range(400):\n    z[:2] *= 1.0", "augassign-slice"),
    pytest.param(LEAF + "v = z[:2]\nw = z[2:]\nfor i in range(200):\n    v.mul_(1.0)\n"
                 "    w.mul_(1.0)", "two-views"),
]


@pytest.mark.parametrize(("source", "what"), INPLACE)
def test_in_place_ops_count_toward_graph_depth(source: str, what: str) -> None:
    err = refused_quickly(source, set(range(4, 10)), limits=SHALLOW)
    assert "deep" in err.message, err.message


def _true_depth(namespace: dict[str, Any]) -> int:
    """The longest path from any tensor's grad_fn down to a leaf, walking torch's graph."""
    memo: dict[Any, int] = {}

    def depth(node: Any) -> int:
        stack = [(node, False)]
        while stack:
            item, done = stack.pop()
            if item is None or (item in memo and not done):
                continue
            children = [n for n, _ in item.next_functions if n is not None]
            if done:
                memo[item] = 1 + max((memo[c] for c in children), default=0)
            else:
                stack.append((item, True))
                stack.extend((c, False) for c in children if c not in memo)
        return memo.get(node, 0)

    return max((depth(v.grad_fn) - 1 for v in namespace.values()
                if isinstance(v, torch.Tensor) and v.grad_fn is not None), default=0)


DEPTH_OPS = ["z += 1", "z.mul_(1.0)", "z = z * 1.0", "z[0] = z[1]", "v.mul_(1.0)",
             "v = z[:2]", "w = z[2:]", "w.add_(1)", "z.clamp_(-9, 9)", "z[:2] *= 1.0",
             "y = v + w", "z = torch.cat([v, w])"]


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(st.sampled_from(DEPTH_OPS), st.integers(1, 12)), min_size=1,
                max_size=8))
def test_no_graph_deeper_than_the_cap_runs(ops: list[tuple[str, int]]) -> None:
    """Property: a program whose real graph is deeper than the cap is always refused, and
    one well within it always runs."""
    cap = 25
    body = "".join(f"for i in range({n}):\n    {op}\n" for op, n in ops)
    source = LEAF + "v = z[:2]\nw = z[2:]\n" + body
    native: dict[str, Any] = {}
    exec(compile(source, "<depth>", "exec"), native)  # the test's own text, not user input
    real = _true_depth(native)
    try:
        run_program(source, Limits(graph_depth=cap))
    except ProgramError as err:
        assert real > cap // 3, f"real depth {real} refused: {err.message}"
        assert "deep" in err.message, err.message
    else:
        assert real <= cap, f"ran with a graph {real} deep (cap {cap})"

N = 10_000
BROADCASTS = [
    pytest.param(T + f"a = torch.ones({N}, 1)\nb = torch.ones(1, {N})\nc = torch.max(a, b)",
                 4, id="torch.max-two-tensors"),
    pytest.param(T + f"a = torch.ones({N}, 1)\nb = torch.ones(1, {N})\nc = a.min(b)", 4,
                 id="min-method"),
    pytest.param(T + f"a = torch.ones({N}, 1)\nc = torch.inner(a, a)", 3, id="inner"),
    pytest.param(T + f"x = torch.ones({N}, 2)\nm = torch.ones({N}, dtype=torch.bool)\n"
                 f"i = torch.zeros({N}, 1, dtype=torch.long)\ny = x[m, i]", 5,
                 id="mask-and-index"),
    pytest.param(T + f"a = torch.ones({N}, 1)\nb = torch.ones(1, {N})\nc = torch.where("
                 "a > 0, a, b)", 4, id="where"),
    pytest.param(T + f"a = torch.ones({N}, 1)\nb = torch.ones({N})\na[0] = 1\nc = a.max(b)", 5,
                 id="max-method-vector"),
]


@pytest.mark.parametrize(("source", "lineno"), BROADCASTS)
def test_broadcasting_calls_are_sized_as_broadcast(source: str, lineno: int) -> None:
    err = refused_quickly(source, lineno)
    assert "MB" in err.message, err.message


BYTES = [
    pytest.param(T + "x = torch.zeros(6_000_000, dtype=torch.complex128)", 2, id="complex128"),
    pytest.param(T + "x = torch.zeros(6_000_000, dtype=torch.float64)", 2, id="float64"),
    pytest.param(T + "x = torch.ones(6_000_000).double()", 2, id="double-cast"),
    pytest.param(T + "x = torch.ones(6_000_000).to(torch.complex64)", 2, id="to-complex"),
    pytest.param(T + "x = torch.ones(6_000_000) * 1j", 2, id="times-complex-scalar"),
    pytest.param(T + "x = torch.randn(6_000_000).argsort()", 2, id="int64-indices"),
    pytest.param(T + "x = torch.arange(6_000_000)", 2, id="int64-arange"),
]


@pytest.mark.parametrize(("source", "lineno"), BYTES)
def test_tensor_caps_count_bytes_not_elements(source: str, lineno: int) -> None:
    err = refused_quickly(source, lineno)
    assert "MB" in err.message and "bytes" in err.message, err.message


def test_the_same_count_in_float32_runs() -> None:
    program = run_program(T + "x = torch.zeros(6_000_000)\ny = x.argmax()\n")
    assert program.namespace["x"].numel() == 6_000_000


S = 's = "a" * 100000\n'
PYTHON_VALUES = [
    pytest.param('s = "a" * 90000\nL = []\nfor i in range(50000):\n    L.append(s + str(i))', 4,
                 id="list-of-long-distinct-strings"),
    pytest.param(S + "t = str([s] * 99999)", 2, id="str-of-repeated-long-string"),
    pytest.param('s = "a" * 30000\nprint(*[s] * 99999)', 2, id="print-star"),
    pytest.param('print(*["ab"] * 60000)', 1, id="print-many-args"),
    pytest.param(S + "print(*[1] * 99999, sep=s)", 2, id="print-sep"),
    pytest.param(S + "print(1, end=s + s)", 2, id="print-end"),
    pytest.param(S + "L = [s, s, s]\nfor i in range(20):\n    L = L + L", 4, id="list-doubling"),
    pytest.param(S + "t = f'{s}{s}'", 2, id="fstring-two-long"),
    pytest.param(T + "x = torch.zeros(90_000)\na = []\nfor i in range(1000):\n"
                 "    a.append(reversed(x))", 5, id="append-reversed-tensor"),
]


@pytest.mark.parametrize(("source", "lineno"), PYTHON_VALUES)
def test_python_strings_and_lists_are_counted(source: str, lineno: int) -> None:
    refused_quickly(source, lineno)


def test_reversed_tensor_is_torchs_flip() -> None:
    program = run_program(T + "x = torch.arange(4.0, requires_grad=True)\ny = reversed(x)\n")
    y = program.namespace["y"]
    assert y.tolist() == [3.0, 2.0, 1.0, 0.0] and type(y.grad_fn).__name__ == "FlipBackward0"


PRINTS = [
    pytest.param(T + "print(torch.ones(6, 6, 6, 6, 6, 6, 6, 6))", 2, id="print-8d"),
    pytest.param(T + "s = str(torch.ones(6, 6, 6, 6, 6, 6, 6, 6))", 2, id="str-8d"),
    pytest.param(T + "s = repr(torch.ones(6, 6, 6, 6, 6, 6, 6, 6))", 2, id="repr-8d"),
    pytest.param(T + "s = f'{torch.ones(6, 6, 6, 6, 6, 6, 6, 6)}'", 2, id="fstring-8d"),
    pytest.param(T + "s = f'{torch.ones(6, 6, 6, 6, 6, 6, 6, 6)!r}'", 2, id="fstring-r-8d"),
    pytest.param(T + "x = torch.ones(6, 6, 6, 6, 6, 6, 6, 6)\nprint([x, x])", 3, id="in-list"),
    pytest.param(T + "torch.set_printoptions(edgeitems=50)\nprint(torch.ones(100, 100, 100))",
                 3, id="edgeitems-raised"),
]


@pytest.mark.parametrize(("source", "lineno"), PRINTS)
def test_printing_is_costed_by_the_numbers_it_writes(source: str, lineno: int) -> None:
    err = refused_quickly(source, lineno, seconds=1.0)
    assert "characters" in err.message, err.message


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(st.lists(st.integers(0, 7), min_size=0, max_size=4), st.integers(1, 200),
       st.integers(1, 4))
def test_text_floor_never_exceeds_torchs_text(shape: list[int], threshold: int,
                                              edgeitems: int) -> None:
    """Property: the size a print is refused by is a lower bound on what torch writes."""
    from autoviz.runner.costs import text_floor

    tensor = torch.randn(shape) if shape else torch.tensor(1.5)
    torch.set_printoptions(threshold=threshold, edgeitems=edgeitems)
    try:
        text = str([tensor, "ab", 3])
    finally:
        torch.set_printoptions(profile="default")
    assert text_floor([tensor, "ab", 3], threshold, edgeitems, 10**9) <= len(text)


SUMS = [
    pytest.param(LEAF + "s = sum([z] * 400)", 4, id="list"),
    pytest.param(LEAF + "r = z.repeat(100)\ns = sum(r)", 5, id="tensor-rows"),
    pytest.param(LEAF + "L = []\nfor i in range(400):\n    L.append(z)\ns = sum(L, z)", 7,
                 id="start"),
]


@pytest.mark.parametrize(("source", "lineno"), SUMS)
def test_builtin_sum_counts_every_addition(source: str, lineno: int) -> None:
    err = refused_quickly(source, lineno, limits=SHALLOW)
    assert "deep" in err.message, err.message


def test_builtin_sum_builds_torchs_graph() -> None:
    source = (T + "x = torch.tensor([1., 2., 3.], requires_grad=True)\n"
              "s = sum(x * x)\nt = sum([x, x * 2], torch.ones(3))\n(s + t.sum()).backward()\n")
    native: dict[str, Any] = {}
    exec(compile(source, "<sum>", "exec"), native)
    program = run_program(source)
    for name in ("s", "t"):
        ours, theirs = program.namespace[name], native[name]
        assert torch.equal(ours, theirs)
        assert type(ours.grad_fn).__name__ == type(theirs.grad_fn).__name__
    assert torch.equal(program.namespace["x"].grad, native["x"].grad)


FUNCTION_VALUES = [
    pytest.param("def f(a):\n    return a\nprint(f)", 3, id="print"),
    pytest.param("def f(a):\n    return a\nL = [f]", 3, id="in-list"),
    pytest.param("def f(a):\n    return a\ny = f + 1", 3, id="operation"),
    pytest.param("def f(a):\n    return a\nd = {'k': f}", 3, id="in-dict"),
    pytest.param("def f(a):\n    return a\ns = str(f)", 3, id="str"),
]


@pytest.mark.parametrize(("source", "lineno"), FUNCTION_VALUES)
def test_functions_are_called_never_held(source: str, lineno: int) -> None:
    err = refused_quickly(source, lineno)
    assert "f()" in err.message and "called" in err.message, err.message


def test_a_function_is_still_called() -> None:
    assert run_program("def f(a):\n    return a * 2\ny = f(21)\n").namespace["y"] == 42


CHECKER = r"""
import os, sys, glob, json
from autoviz import run_program
run_program("import torch\nx = torch.ones(2)\n")
before, env = set(sys.modules), dict(os.environ)
inductor = set(glob.glob("/tmp/torchinductor_*"))
run_program('''import torch
import torch.nn.functional as F
v = torch.ones(20000)
m = torch.ones(200, 200)
i = torch.zeros(3, dtype=torch.long)
a = torch.cat([v, v])
b = torch.stack([v, v])
c = torch.hstack([v, v])
d = torch.vstack([v, v])
e = torch.outer(v[:200], v[:200])
f = torch.diag(v[:150])
g = torch.eye(150)
h = torch.normal(v, v)
k = torch.randn_like(v)
l = F.cross_entropy(m, torch.zeros(200, dtype=torch.long))
n = F.nll_loss(m, torch.zeros(200, dtype=torch.long))
o = torch.matmul(m, m)
p = torch.mv(m, m[0])
q = torch.dot(v, v)
r = torch.inner(m, m)
s = m.repeat(2, 1)
t = torch.tile(m, (2, 1))
u = m.index_select(0, i)
w = m.gather(1, torch.zeros(200, 2, dtype=torch.long))
y = F.pad(m, (1, 1))
z = m[torch.tensor([0, 1]), 3]
aa = torch.arange(20000.0)
bb = torch.linspace(0, 1, 20000)
cc = m.new_zeros(200, 200)
dd = torch.masked_select(m, m > 0)
ee = torch.nonzero(m)
ff = m.expand(3, 200, 200)
''')
print(json.dumps({"modules": sorted(set(sys.modules) - before),
                  "env": sorted(k for k in os.environ if os.environ[k] != env.get(k)),
                  "files": sorted(set(glob.glob("/tmp/torchinductor_*")) - inductor)}))
"""


def test_cost_checks_import_and_configure_nothing() -> None:
    """Sizing every kind of call leaves the process as it was: no module imported (torch's
    meta-device code imports hundreds, torch._dynamo among them), no environment variable
    set (TORCHINDUCTOR_CACHE_DIR), no folder made."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", CHECKER], capture_output=True, text=True,
                          timeout=120, cwd=root, env={"PYTHONPATH": str(root),
                                                      "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"modules": [], "env": [], "files": []}, found


def test_augmented_assignment_evaluates_in_pythons_order() -> None:
    """CPython evaluates the target ``w[2]`` before the right side: its IndexError wins."""
    source = (T + "w = torch.ones(2, requires_grad=True)\nwith torch.no_grad():\n"
              "    w[2] += 0.1 * w.grad\n")
    with pytest.raises(IndexError) as native:
        exec(compile(source, "<order>", "exec"), {})
    with pytest.raises(ProgramError) as ours:
        run_program(source)
    assert ours.value.lineno == 4
    assert ours.value.message == f"IndexError: {native.value}"


def _calls(a: torch.Tensor, b: torch.Tensor, n: int) -> dict[str, tuple]:
    """One call per sized name of the allowlist: (function, args, kwargs), small and valid
    for a tensor ``a``, a tensor ``b`` of another shape, and a size ``n``."""
    F = torch.nn.functional
    i = torch.zeros(n, dtype=torch.long)
    v, m = a.flatten(), a.reshape(a.shape[0], -1)
    img = a.reshape(1, 1, a.shape[0], -1)
    return {
        "torch.cat": (torch.cat, ([a, a],), {}), "torch.concat": (torch.concat, ([a, a],), {}),
        "torch.concatenate": (torch.concatenate, ([a, a],), {}),
        "torch.stack": (torch.stack, ([a, a],), {}), "torch.hstack": (torch.hstack, ([a, a],), {}),
        "torch.vstack": (torch.vstack, ([a, a],), {}), "torch.outer": (torch.outer, (v, v), {}),
        "torch.gather": (torch.gather, (m, 1, torch.zeros(m.shape[0], n, dtype=torch.long)), {}),
        "torch.index_select": (torch.index_select, (a, 0, i), {}),
        "torch.tile": (torch.tile, (a, (n, 2)), {}), "torch.diag": (torch.diag, (v, n), {}),
        "torch.masked_select": (torch.masked_select, (a, b > 0), {}) if _bcast(a, b) else None,
        "torch.nonzero": (torch.nonzero, (a,), {"as_tuple": n % 2 == 0}),
        "torch.matmul": (torch.matmul, (m, m.T), {}), "torch.mm": (torch.mm, (m, m.T), {}),
        "torch.bmm": (torch.bmm, (m[None], m.T[None]), {}), "torch.mv": (torch.mv, (m, m[0]), {}),
        "torch.dot": (torch.dot, (v, v), {}), "torch.inner": (torch.inner, (a, a), {}),
        "torch.zeros": (torch.zeros, tuple(a.shape), {}),
        "torch.ones": (torch.ones, (tuple(a.shape),), {}),
        "torch.empty": (torch.empty, (), {"size": tuple(a.shape)}),
        "torch.full": (torch.full, (tuple(a.shape), n), {}),
        "torch.arange": (torch.arange, (0.5, n * 3.7, 0.9), {}),
        "torch.linspace": (torch.linspace, (0, 1, n), {}),
        "torch.logspace": (torch.logspace, (0, 1), {"steps": n}),
        "torch.eye": (torch.eye, (n, n + 2), {}),
        "torch.zeros_like": (torch.zeros_like, (a,), {}),
        "torch.ones_like": (torch.ones_like, (a,), {}),
        "torch.empty_like": (torch.empty_like, (a,), {}),
        "torch.full_like": (torch.full_like, (a, 2), {}),
        "torch.randn": (torch.randn, tuple(a.shape), {}), "torch.rand": (torch.rand, (n,), {}),
        "torch.randint": (torch.randint, (3, 9, tuple(a.shape)), {}),
        "torch.randperm": (torch.randperm, (n,), {}),
        "torch.normal": (torch.normal, (a, a.abs() + 1), {}),
        "torch.bernoulli": (torch.bernoulli, (a.sigmoid(),), {}),
        "torch.randn_like": (torch.randn_like, (a,), {}),
        "torch.rand_like": (torch.rand_like, (a,), {}),
        "torch.randint_like": (torch.randint_like, (a, 5), {}),
        "F.cross_entropy": (F.cross_entropy, (m, torch.zeros(m.shape[0], dtype=torch.long)),
                            {"reduction": "none"}),
        "F.nll_loss": (F.nll_loss, (m, torch.zeros(m.shape[0], dtype=torch.long)),
                       {"reduction": "none"}),
        "F.pad": (F.pad, (a, (n, 1)), {}), "F.linear": (F.linear, (m, m), {}),
        "F.one_hot": (F.one_hot, (i + n,), {}),
        "F.embedding": (F.embedding, (i, m), {}),
        "torch.einsum": (torch.einsum, ("ij,kj->ik", m, m), {}),
        "torch.Tensor": (torch.Tensor, (n, 2), {}),
        ".repeat": (torch.Tensor.repeat, (a, *([n] * a.dim())), {}),
        ".expand": (torch.Tensor.expand, (a, n, *a.shape), {}),
        ".expand_as": (torch.Tensor.expand_as, (a, a.expand(n, *a.shape)), {}),
        ".new_zeros": (torch.Tensor.new_zeros, (a, n, 2), {}),
        ".new_ones": (torch.Tensor.new_ones, (a, (n,)), {}),
        ".new_full": (torch.Tensor.new_full, (a, (n, 3), 1.5), {}),
        ".new_empty": (torch.Tensor.new_empty, (a, n), {}),
        ".new_tensor": (torch.Tensor.new_tensor, (a, [[1, 2]] * n), {}),
        ".scatter": (torch.Tensor.scatter, (m, 1, torch.zeros(1, 1, dtype=torch.long),
                                            m[:1, :1]), {}),
        ".scatter_add": (torch.Tensor.scatter_add, (m, 1, torch.zeros(1, 1, dtype=torch.long),
                                                    m[:1, :1]), {}),
        ".index_add": (torch.Tensor.index_add, (a, 0, torch.zeros(1, dtype=torch.long),
                                                a[:1]), {}),
        "indexing": (lambda t, k: t[k], (a, (b > 0, ...)[:1] if b.shape == a.shape else
                                         (i, torch.zeros(n, 1, dtype=torch.long))), {}),
        ".repeat_interleave": (torch.Tensor.repeat_interleave, (a, n), {}),
        "torch.repeat_interleave": (torch.repeat_interleave, (
            a, torch.arange(a.shape[0]) % (n + 1)), {"dim": 0, "output_size": None}),
        "torch.cdist": (torch.cdist, (m, m.flip(0)[:n]), {"p": 1.0 + n % 2}),
        "torch.addmm": (torch.addmm, (torch.ones(1, dtype=a.dtype), m, m.T), {"beta": 2}),
        # images from a: (1, 1, H, W) and (C, L); every window fits (padding n >= 1)
        "F.conv2d": (F.conv2d, (img, torch.ones(2, 1, 2, 2, dtype=a.dtype)), {
            "stride": n, "padding": n, "dilation": 1 + n % 2}),
        "F.conv1d": (F.conv1d, (a.reshape(1, -1), torch.ones(3, 1, 2, dtype=a.dtype), None,
                                1 + n % 2, (n,), n), {}),
        "F.max_pool2d": (F.max_pool2d, (img, 2), {"stride": n, "padding": 1,
                                                  "ceil_mode": n % 2 == 1,
                                                  "return_indices": n % 2 == 0}),
        "F.max_pool1d": (F.max_pool1d, (a.reshape(1, -1), 2, None, 1, 1, n > 2), {}),
        "F.avg_pool2d": (F.avg_pool2d, (img, (2, 1)), {"padding": (1, 0), "ceil_mode": True,
                                                       "stride": (n, 1)}),
        "F.avg_pool1d": (F.avg_pool1d, (a.reshape(1, 1, -1), 3, n, 1, n % 2 == 0), {}),
    }


def _bcast(a: torch.Tensor, b: torch.Tensor) -> bool:
    try:
        torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError:
        return False
    return True


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.integers(1, 4), min_size=2, max_size=3),
       st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(1, 5),
       st.sampled_from([torch.float32, torch.float64, torch.int64, torch.complex64]))
def test_every_sized_call_is_bounded_by_its_rule(shape: list[int], other: list[int], n: int,
                                                 dtype: torch.dtype) -> None:
    """Property: for every ``shaped``/``matmul``/``create``/``random`` name of the allowlist,
    the bytes the rule allows for (elements x element size) are at least what torch makes."""
    from autoviz.runner import allowlist as al
    from autoviz.runner.costs import matmul_cost, result_itemsize, result_numel, tensors_in

    sized = {al.SHAPED, al.MATMUL, al.CREATE, al.RANDOM}
    names = {f"torch.{k}" for k, c in al.TORCH_FUNCTIONS.items() if c in sized} | {
        f"F.{k}" for k, c in al.F_FUNCTIONS.items() if c in sized} | {
        f".{k}" for k, c in al.TENSOR_METHODS.items() if c in sized} | {"indexing"}
    names -= {"torch.tensor", "torch.as_tensor", ".matmul", ".mm", ".bmm", ".mv", ".dot",
              ".inner", ".index_select", ".gather", ".diag", ".masked_select", ".nonzero"}
    a = (torch.randn(shape) * 3).to(dtype)
    if dtype.is_complex or not dtype.is_floating_point:
        a = torch.randn(shape).round()  # some calls need real floats
    b = torch.randn(other)
    calls = _calls(a, b, n)
    assert names <= set(calls), f"no test call for {sorted(names - set(calls))}"
    for name in sorted(names):
        call = calls[name]
        if call is None:
            continue
        fn, args, kwargs = call
        try:
            result = fn(*args, **kwargs)
        except (RuntimeError, IndexError, ValueError):
            continue  # torch refuses these arguments: nothing is made
        outputs = tensors_in(result)
        made = sum(t.numel() * t.element_size() for t in outputs if t._base is None
                   or name in (".expand", ".expand_as"))
        cost = matmul_cost(name, args, kwargs) if al.MATMUL in (
            al.TORCH_FUNCTIONS.get(name[6:]), al.F_FUNCTIONS.get(name[2:])) else None
        numel = cost[0] if cost else result_numel(name, args, kwargs)
        assert numel is not None, f"{name}: no rule for {args!r} {kwargs!r}"
        inputs = [v for v in (*args, *kwargs.values()) if isinstance(v, torch.Tensor)]
        for v in args:
            if isinstance(v, (list, tuple)):
                inputs.extend(tensors_in(v))
        itemsize = result_itemsize(name, inputs, (*args, *kwargs.values()))
        assert numel * itemsize >= made, (name, numel, itemsize, made)


# ---- what a red team got past the caps (one program per class) ---------------------------
F64 = "dtype=torch.float64"
PAST_THE_CAPS = [
    # sizes given as tensors, or arguments given by keyword
    pytest.param(T + "r = torch.zeros(torch.tensor(300000000))", 2, id="size-as-tensor"),
    pytest.param(T + "r = torch.linspace(0, 1, torch.tensor(300000000))", 2, id="steps-tensor"),
    pytest.param(T + "r = torch.eye(3, torch.tensor(100000000))", 2, id="eye-tensor"),
    pytest.param(T + f"a = torch.ones(10000, 1, {F64})\nb = torch.ones(1, 10000, {F64})\n"
                 "r = torch.matmul(input=a, other=b)", 4, id="matmul-keywords"),
    pytest.param(T + f"a = torch.ones(10000, {F64})\nr = torch.outer(input=a, vec2=a)", 3,
                 id="outer-keywords"),
    pytest.param(T + f"x = torch.ones(10000, {F64})\nr = torch.diag(input=x)", 3,
                 id="diag-keyword"),
    pytest.param(T + f"x = torch.ones(10000, {F64})\nr = torch.tile(input=x, dims=(10000,))",
                 3, id="tile-keywords"),
    pytest.param(T + "x = torch.ones(1000)\nr = x.repeat(repeats=(300, 1000))", 3,
                 id="repeat-keyword"),
    # the result's element size
    pytest.param(T + "c = torch.ones(32, 32, 32, 32, 32, dtype=torch.bool)\nr = torch.where(c)",
                 3, id="where-one-argument"),
    pytest.param(T + "c = torch.ones(40000000, dtype=torch.bool)\nr = c.cumsum(0)", 3,
                 id="cumsum-of-bools"),
    pytest.param(T + "c = torch.ones(1, 40000000, dtype=torch.uint8)\nr = c.argmax(dim=0)", 3,
                 id="argmax-over-size-1"),
    pytest.param(T + "x = torch.ones(40000000, dtype=torch.uint8)\nr = x.topk(40000000)", 3,
                 id="topk-indices"),
    pytest.param(T + "x = torch.ones(40000000, dtype=torch.uint8)\nr = x / 2", 3,
                 id="integer-division"),
    pytest.param(T + "c = torch.ones(40000000, dtype=torch.bool)\n"
                 "r = torch.tensor(c, dtype=torch.complex128)", 3, id="tensor-of-tensor"),
    # advanced indexing's real shape, and item assignment through it
    pytest.param(T + "x = torch.zeros(2, 2)\ni = [[0]] * 15000\n"
                 "j = torch.zeros(15000, dtype=torch.long)\nr = x[i, j]", 5, id="nested-list"),
    pytest.param(T + "x = torch.zeros(2, 2)\ni = torch.zeros(15000, 1, dtype=torch.long)\n"
                 "j = torch.zeros(15000, dtype=torch.long)\nr = x[[i, j]]", 5,
                 id="list-of-tensors"),
    pytest.param(T + "x = torch.zeros(2, 20000)\ni = torch.zeros(20000, 1, dtype=torch.long)\n"
                 "r = x[i, range(20000)]", 4, id="range-index"),
    pytest.param(T + "x = torch.zeros(2, 2)\ni = torch.zeros(100000, 1, dtype=torch.long)\n"
                 "j = torch.zeros(100000, dtype=torch.long)\nx[i, j] = 1.0", 5,
                 id="setitem-broadcast-index"),
    # Python values
    pytest.param(T + "s = torch.zeros(1).shape\nfor i in range(26):\n    s = s + s", 4,
                 id="size-doubling"),

    pytest.param(T + "x = torch.zeros(10)\nz = zip(x.tolist())\nfor i in range(40):\n"
                 "    z = zip(z, x.split(1))", 5, id="zip-of-zip"),
    pytest.param("r = list(range(-2**62, 2**62))", 1, id="range-too-long-for-len"),
    # other devices (meta's Python code imports and configures parts of torch)
    pytest.param(T + "x = torch.ones(3, device='meta')\ny = x + 1", 2, id="meta-device"),
    pytest.param(T + "x = torch.ones(3).to('cuda')", 2, id="cuda-device"),
]


@pytest.mark.parametrize(("source", "lineno"), PAST_THE_CAPS)
def test_what_got_past_the_caps_is_refused_first(source: str, lineno: Any) -> None:
    refused_quickly(source, lineno)


@pytest.mark.parametrize("make", ["x.split(1)", "list(x)", "x.unbind()", "tuple(x)"])
def test_tensor_objects_count_before_they_are_made(make: str) -> None:
    source = T + "x = torch.zeros(100000)\n" + "".join(f"a{i} = {make}\n" for i in range(8))
    err = refused_quickly(source, 4, limits=Limits(tensor_objects=150_000))
    assert "tensors in all" in err.message


DEEP = Limits(graph_depth=2000, graph_nodes=20_000)
DEEPER = [
    pytest.param(T + "x = torch.ones(1, requires_grad=True)\ny = x\nfor i in range(3000):\n"
                 "    y = torch.cat(tensors=[y])", 5, id="cat-keyword-list"),
    pytest.param(T + "x = torch.ones(2, 2, requires_grad=True)\ny = x * 1\n"
                 "for i in range(1000):\n    y = y.T.T.T", 5, id="transpose-attribute"),
    pytest.param(T + "w = torch.ones(1, requires_grad=True)\ny = w\nfor i in range(900):\n"
                 "    y = y * w\ny.backward(create_graph=True)\ng = w.grad\n"
                 "for i in range(900):\n    g = g * 1.0", {6, 9}, id="create-graph-grad"),
    pytest.param(T + "w = torch.ones(1, requires_grad=True)\nc = w * 1.0\nfor k in range(3):\n"
                 "    for i in range(900):\n        c = c * w\n"
                 "    g = torch.ones(1, requires_grad=True)\n    r = c.grad_fn(g)\n"
                 "    c = r[1]", {6, 8}, id="grad_fn-call-outputs"),
]


@pytest.mark.parametrize(("source", "lineno"), DEEPER)
def test_graphs_made_past_the_counting_are_counted(source: str, lineno: Any) -> None:
    err = refused_quickly(source, lineno, limits=DEEP)
    assert "deep" in err.message or "nodes" in err.message, err.message


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="needs fork to survive a crash")
def test_nested_zips_cannot_recurse_in_c() -> None:
    source = ("z = zip([0])\nfor i in range(10000):\n    z = zip(zip(zip(zip(zip(zip(zip("
              "zip(zip(zip(z))))))))))\na = list(z)\n")
    result, elapsed = run_forked(source, timeout=20.0)
    assert result is not None, f"still running after {elapsed:.1f} s (killed)"
    kind, lineno, refused, message = result
    assert kind == "error" and refused and lineno == 3, (kind, lineno, message)


LEGAL_NOW = [
    pytest.param(T + "w = torch.ones(3, requires_grad=True)\nfor i in range(10005):\n"
                 "    w = w.contiguous()\n", id="contiguous-hands-back-itself"),
    pytest.param(T + "x = torch.ones(2, requires_grad=True)\nfor i in range(14):\n"
                 "    (x ** 2).sum().backward(create_graph=True)\n", id="create-graph-loop"),
    pytest.param(T + "x = torch.zeros(5000, 100)\ny = x[list(range(2000))]\n"
                 "x[list(range(2000))] = 1.0\n", id="long-flat-list-index"),
    pytest.param(T + "x = torch.ones(20)\nk = torch.diag(x, 1)\n", id="diag-offset"),
]


@pytest.mark.parametrize("source", LEGAL_NOW)
def test_what_torch_runs_in_small_memory_is_not_refused(source: str) -> None:
    """The caps count only what is spent: an op handing back its input, a create_graph
    loop of a shallow graph, a long flat index list."""
    with memory_ceiling():
        run_program(source)


def test_a_bool_tensor_plus_an_int_is_sized_as_int64_first() -> None:
    refused_quickly(T + "m = torch.ones(20_000_000, dtype=torch.bool)\nr = m + 1", 3)


def test_inference_tensors_which_keep_no_version_run_as_natively() -> None:
    """The runner reads each input's version (in-place or not): an inference tensor has
    none, and must not make a program fail that torch runs."""
    source = (T + "torch.manual_seed(0)\nt1 = torch.randn([])\nwith torch.inference_mode():\n"
              "    s = t1.sum().item()\n    u = t1 * 2\n    u += 1\n    v = u.view(1)\n"
              "print(t1, u, v)\n")
    native: dict[str, Any] = {}
    exec(compile(source, "<inference>", "exec"), native)
    program = run_program(source)
    assert torch.equal(program.namespace["v"], native["v"])
