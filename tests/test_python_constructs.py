"""The Python people write around their tensors (issue 14), through :func:`run_program`.

Comprehensions and generator expressions, ``while``, ``try``/``except``/``finally``,
``raise``, ``assert``, ``del``, dicts and sets, ``lambda``, nested functions and closures,
defaults and keyword arguments, the builtins that go with them, ``math``, the import forms
courses use, and text formatting (f-strings, ``str.format``, ``%``).

Two kinds of test, as elsewhere:

- **Python and torch are the oracle.** Each program runs natively (the test ``exec``s its
  own constant text) and through autoviz: what it printed, every value it left (tensors
  with their ``grad_fn``, ``requires_grad`` and ``.grad``; lists, dicts, sets, numbers) and
  the error it ended with (type, message, line) must be the same. Programs that call
  ``.backward()`` are also checked node by node with the oracle of ``test_oracle``.
- **Hostile input.** Every refusal is tested with the input that triggers it: it must be a
  plain-words :class:`ProgramError`, on the right line, quickly, before the work is done
  (under a lowered address-space limit, so a cap that slips fails fast instead of eating
  the machine). No ``except`` of the program may catch a refusal, and no ``finally`` of
  the program runs after one.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import math
import re
import textwrap
import time
import types
from typing import Any, Iterator

import pytest
import torch
from test_oracle import assert_matches_native
from test_sandbox import memory_ceiling

from autoviz import Limits, Program, ProgramError, run_program
from autoviz.runner.pyvalues import _Generator

PROGRAM = "<program>"
FAST = 2.0  # seconds: a generous bound for a refusal (the machine is shared)
CAPPED = 5.0  # seconds: for refusals at the statement cap (200,000 statements run first)
GiB = 2**30
T = "import torch\n"
_TRACEBACK = re.compile(r'Traceback \(most recent call last\)|File "[^"]*", line \d+')
_PRIVATE = re.compile(r"(?<![\w'\"])_[A-Za-z][A-Za-z0-9]*")
_OUT_OF_MEMORY = re.compile(r"out of memory|can't allocate|Cannot allocate|^MemoryError", re.I)


# ---- the native side and the comparison --------------------------------------------------


def run_native(source: str) -> tuple[dict[str, Any], str, BaseException | None, int | None]:
    """``exec`` the test's own constant text: namespace, output, error and its line."""
    namespace: dict[str, Any] = {}
    buffer = io.StringIO()
    error, line = None, None
    grad_mode = torch.is_grad_enabled()
    try:
        with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(buffer):
            try:
                exec(compile(source, PROGRAM, "exec"), namespace)  # the test's own text
            except Exception as exc:  # the oracle's own error is the expectation
                error = exc
                tb = exc.__traceback__
                while tb is not None:
                    if tb.tb_frame.f_code.co_filename == PROGRAM:
                        line = tb.tb_lineno
                    tb = tb.tb_next
    finally:
        torch.set_grad_enabled(grad_mode)
    return namespace, buffer.getvalue(), error, line


def assert_same(got: Any, want: Any, what: str) -> None:
    if isinstance(want, torch.Tensor):
        assert isinstance(got, torch.Tensor), f"{what}: a tensor natively, {got!r} here"
        torch.testing.assert_close(got.detach(), want.detach(), rtol=0, atol=0,
                                   equal_nan=True, msg=lambda m: f"{what}: {m}")
        assert got.requires_grad == want.requires_grad, f"{what}.requires_grad"
        assert got.is_leaf == want.is_leaf, f"{what}.is_leaf"
        names = [None if t.grad_fn is None else t.grad_fn.name() for t in (got, want)]
        assert names[0] == names[1], f"{what}.grad_fn: {names}"
        if want.is_leaf and want.grad is not None:
            assert_same(got.grad, want.grad, f"{what}.grad")
        elif want.is_leaf:
            assert got.grad is None, f"{what}.grad"
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want), f"{what}: {got!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{what}[{i}]")
    elif isinstance(want, dict):
        assert type(got) is dict and list(got) == list(want), f"{what}: {got!r} vs {want!r}"
        for key, value in want.items():
            assert_same(got[key], value, f"{what}[{key!r}]")
    elif isinstance(want, float) and math.isnan(want):
        assert isinstance(got, float) and math.isnan(got), f"{what}: {got!r}"
    elif isinstance(want, types.GeneratorType):
        assert isinstance(got, _Generator), f"{what}: {got!r}"
    else:
        assert type(got) is type(want) and got == want, f"{what}: {got!r} vs {want!r}"


def _compared(name: str, value: Any) -> bool:
    return not name.startswith("__") and not isinstance(value, types.ModuleType) and not (
        callable(value) and not isinstance(value, torch.Tensor))


def runs_like_python(source: str) -> Program:
    """The program runs to its end, natively and here, with the same output and values."""
    source = textwrap.dedent(source)
    namespace, output, error, _ = run_native(source)
    assert error is None, f"the oracle itself failed: {error!r}"
    program = run_program(source)
    assert program.output == output
    for name, want in namespace.items():
        if _compared(name, want):
            assert name in program.namespace, f"{name} is missing from autoviz's namespace"
            assert_same(program.namespace[name], want, name)
    for name in program.namespace:  # nothing leaks that Python would not keep
        assert name in namespace, f"{name} is in autoviz's namespace, not in Python's"
    return program


def fails_like_python(source: str) -> ProgramError:
    """The program fails as Python fails: the same error, message and line."""
    source = textwrap.dedent(source)
    _, output, error, line = run_native(source)
    assert error is not None, "the oracle ran the program without an error"
    with pytest.raises(ProgramError) as info:
        run_program(source)
    err = info.value
    assert err.message == f"{type(error).__name__}: {error}"
    assert err.lineno == line, f"line {err.lineno}, Python says {line}: {err.message}"
    assert err.refused is False and err.error_type == type(error).__name__
    return err


def refused(source: str, lineno: Any, *, contains: str | None = None,
            limits: Limits | None = None, seconds: float = FAST) -> ProgramError:
    """``source`` is refused (not failed) at ``lineno``, quickly, in plain words."""
    start = time.perf_counter()
    with memory_ceiling(), pytest.raises(ProgramError) as info:
        run_program(source, limits)
    elapsed = time.perf_counter() - start
    err = info.value
    message = err.message
    assert err.refused, f"not a refusal: {err.lineno}: {message!r}"
    assert message.strip() and "\n" not in message.strip(), repr(message)
    assert not _TRACEBACK.search(message) and " at 0x" not in message, repr(message)
    assert not _PRIVATE.search(message), f"internal name in message: {message!r}"
    assert not _OUT_OF_MEMORY.search(message) or "ran out of memory" in message, message
    allowed = lineno if isinstance(lineno, (set, frozenset)) else {lineno}
    assert err.lineno in allowed, f"line {err.lineno}, expected {allowed}: {message!r}"
    if contains is not None:
        assert contains in message, f"{contains!r} not in {message!r}"
    assert elapsed < seconds, f"took {elapsed:.2f} s (bound {seconds} s): {message!r}"
    return err


@pytest.fixture(scope="module", autouse=True)
def _warm_up() -> None:
    """Pay torch's one-time lazy imports before anything is timed."""
    run_program(T + "x = torch.randn(3, requires_grad=True)\ny = (x @ x).sum()\n"
                "y.backward()\nprint(torch.ones(1), [v for v in range(3)])\n")


@pytest.fixture(autouse=True)
def _isolate_torch_state() -> Iterator[None]:
    grad, rng = torch.is_grad_enabled(), torch.get_rng_state()
    yield
    torch.set_grad_enabled(grad)
    torch.set_rng_state(rng)


# ---- Python and torch as the oracle: programs that run ------------------------------------

PROGRAMS = {
    "list_comprehensions": """
        xs = [3, 1, 4, 1, 5]
        squares = [x * x for x in xs]
        evens = [x for x in xs if x % 2 == 0]
        pairs = [(i, j) for i in range(3) for j in range(i) if i != j]
        nested = [[i * j for j in range(3)] for i in range(2)]
        flat = [v for row in nested for v in row if v]
        unpacked = [a + b for a, b in zip(xs, xs[1:])]
        letters = [c.upper() for c in "abc"]
        print(squares, evens, pairs, nested, flat, unpacked, letters)
    """,
    "comprehension_scope": """
        x = "outer"
        ys = [x for x in range(3)]
        print(x, ys)
        def f(n):
            k = 10
            return [k + i for i in range(n)]
        def g():
            base = [1, 2]
            return [[b + j for j in range(2)] for b in base]
        print(f(3), g())
    """,
    "dict_and_set_comprehensions": """
        words = ["apple", "bob", "cat", "apple"]
        lengths = {w: len(w) for w in words}
        initials = {w[0] for w in words}
        inverted = {v: k for k, v in lengths.items() if v > 2}
        grid = {(i, j): i * j for i in range(2) for j in range(2)}
        print(lengths, sorted(initials), inverted, grid, len(initials))
    """,
    "generator_expressions": """
        xs = [1, 2, 3, 4]
        print(sum(x ** 2 for x in xs), min(x - 3 for x in xs), max(abs(x - 3) for x in xs))
        print(any(x > 3 for x in xs), all(x > 0 for x in xs), list(x for x in xs if x % 2))
        print(tuple(x * 2 for x in xs), sorted(-x for x in xs), set(x % 2 for x in xs))
        print(dict((x, x * x) for x in xs), list(zip((x for x in xs), "abcd")))
        print(list(enumerate(x * 10 for x in xs)), list(map(str, (x for x in xs))))
        print(", ".join(str(x) for x in xs), sum((x for x in xs), 10), 3 in (x for x in xs))
        g = (x * 3 for x in xs)
        first = list(g)
        again = list(g)
        a, b = (x for x in range(2))
        print(first, again, a, b, *(x for x in "hi"))
        for v in (x for x in xs if x > 2):
            print("drawn", v)
    """,
    "generators_are_lazy": """
        def noisy(x):
            print("made", x)
            return x
        print(any(noisy(x) > 1 for x in [1, 2, 3, 4]))
        g = (noisy(x) for x in range(3))
        print("nothing made yet")
        for v in g:
            print("got", v)
        def evens(limit):
            return (n for n in range(limit) if n % 2 == 0)
        print(list(evens(7)), list(map(lambda v: v + 1, evens(4))), list(filter(None, [0, 1, 2])))
    """,
    "while_loops": """
        n = 0
        found = None
        while n < 10:
            n += 1
            if n % 2:
                continue
            if n == 6:
                found = n
                break
        else:
            found = -1
        m = 0
        while m < 3:
            m += 1
        else:
            print("while else ran", m)
        for i in range(3):
            if i == 5:
                break
        else:
            print("for else ran", i)
        for j in range(3):
            if j == 1:
                break
        else:
            print("never printed")
        queue = [1, 2, 3]
        while queue:
            print("popped", queue.pop())
        print(n, found, m, i, j, queue)
    """,
    "try_except": """
        import torch
        def safe_div(a, b):
            try:
                result = a / b
            except ZeroDivisionError as e:
                print("caught:", e, e.args)
                result = None
            else:
                print("no error")
            finally:
                print("finally", a, b)
            return result
        print(safe_div(1, 2), safe_div(1, 0))
        try:
            torch.ones(2, 3) @ torch.ones(2, 3)
        except RuntimeError as e:
            print("torch said:", e)
        try:
            [1, 2][5]
        except (KeyError, IndexError) as e:
            print(repr(e), str(e))
        try:
            {"a": 1}["b"]
        except LookupError as e:
            print("lookup", repr(e), e.args)
        try:
            int("x")
        except Exception as e:
            print("exception:", e, isinstance(e, ValueError), isinstance(e, TypeError))
        try:
            undefined_name
        except:
            print("a bare except catches the program's own error")
        try:
            try:
                raise ValueError("inner")
            except ValueError:
                raise
        except ValueError as outer:
            print("re-raised:", outer)
        try:
            pass
        finally:
            print("finally without except")
    """,
    "raise_in_a_function": """
        def check(x):
            if x < 0:
                raise ValueError(f"negative: {x}")
            if x == 0:
                raise ZeroDivisionError
            return x
        results = []
        for v in [1, -2, 0, 3]:
            try:
                results.append(check(v))
            except ValueError as err:
                results.append(str(err))
            except ArithmeticError as err:
                results.append(repr(err))
        print(results)
    """,
    "finally_and_return": """
        def f():
            for i in range(3):
                try:
                    if i == 0:
                        continue
                    if i == 2:
                        return i
                finally:
                    print("finally", i)
        def g():
            try:
                return "try"
            finally:
                print("g's finally")
        def h():
            try:
                1 / 0
            finally:
                return "a return in finally ends the error, as in Python"
        print(f(), g(), h())
    """,
    "assert_that_holds": """
        x = 3
        assert x == 3
        assert x > 0, "positive"
        assert [x], f"{x} is there"
        print("ok")
    """,
    "dicts": """
        d = {"a": 1, "b": 2}
        d["c"] = 3
        del d["a"]
        print(d, d["b"], d.get("z"), d.get("z", 0), "b" in d, "a" not in d, len(d))
        print(list(d.keys()), list(d.values()), list(d.items()), d.keys())
        for key in d:
            print(key, d[key])
        for key, value in d.items():
            print(key, "->", value)
        print(d.pop("b"), d.pop("gone", None), d.setdefault("q", []), d)
        d["q"].append(1)
        d.update({"r": 2}, s=3)
        d.update([("t", 4)])
        merged = {**d, "u": 5}
        copy = d.copy()
        copy.clear()
        print(d, merged, copy, dict(a=1, b=2), dict([("x", 1)]), dict(zip("ab", range(2))))
        keys = {(1, 2): "tuple", None: "none", 1.5: "float", True: "bool", "s": "str"}
        print(keys[(1, 2)], keys[None], keys[1.5], keys[1], sorted({3: "c", 1: "a"}.items()))
        scores = {"a": 3, "b": 5, "c": 1}
        print(d.popitem(), max(scores, key=scores.get), sorted(d, key=lambda k: -len(str(d[k]))))
    """,
    "dict_of_tensors": """
        import torch
        params = {"w": torch.tensor([1.0, 2.0], requires_grad=True),
                  "b": torch.tensor(0.5, requires_grad=True)}
        x = torch.tensor([3.0, 4.0])
        loss = (params["w"] * x).sum() + params["b"]
        loss.backward()
        grads = {name: p.grad for name, p in params.items()}
        for name, g in grads.items():
            print(name, g)
        print(sum(g.sum() for g in grads.values()), "w" in params, len(params))
    """,
    "sets": """
        s = {3, 1, 2}
        s.add(4)
        s.add(1)
        s.discard(10)
        s.remove(3)
        t = set([1, 5])
        print(sorted(s), 1 in s, 9 in s, len(s), sorted(s.union(t)), s.intersection(t))
        print(sorted(s.difference(t)), s.issubset({1, 2, 4, 8}), set(), {x % 3 for x in range(9)})
        for v in sorted(s):
            print(v)
    """,
    "builtins": """
        import torch
        xs = [3, -1, 2]
        print(len(xs), list(range(2, 8, 2)), list(zip(xs, "abc")), list(enumerate(xs, 1)))
        print(min(xs), max(xs), abs(-2.5), round(3.14159, 2), sum(xs), sum(xs, 10))
        print(sorted(xs), sorted(xs, reverse=True), sorted(xs, key=abs), sorted("bca"))
        print(min(xs, key=lambda v: v * v), max("ab", "c", key=len), max([], default=None))
        print(any([0, 0, 1]), all([1, 1, 0]), divmod(17, 5), divmod(-7.5, 2), pow(2, 10))
        print(pow(3, 4, 5), pow(2.0, -1), pow(2, -1), list(map(pow, [2, 3], [2, 2])))
        print(isinstance(1, int), isinstance(True, int), isinstance(1.0, (int, float)))
        print(isinstance("s", str), isinstance([], (tuple, list)), isinstance({}, dict))
        print(isinstance(set(), set), isinstance(torch.ones(1), torch.Tensor),
              isinstance(1, torch.Tensor), isinstance(None, (int, (str, float))))
        print(list(map(lambda v: v * 2, xs)), list(filter(lambda v: v > 0, xs)))
        ys = [5, 3]
        ys.extend([4, 1])
        ys.insert(0, 9)
        ys.sort()
        popped = ys.pop()
        ys.reverse()
        ys.remove(3)
        print(ys, popped, ys.index(4), ys.count(4), (1, 2, 2).count(2), (1, 2).index(2))
        ys.sort(key=lambda v: -v, reverse=True)
        print(ys, ys.copy())
    """,
    "functions": """
        def scale(x, factor=2, *, offset=0):
            return x * factor + offset
        def collect(first, *rest, **named):
            return first, rest, sorted(named.items())
        def apply(fn, value):
            return fn(value)
        def make_adder(n):
            def add(x):
                return x + n
            return add
        def counter():
            count = 0
            def show():
                return count
            count = 5
            return show
        square = lambda v: v * v
        add3 = make_adder(3)
        print(scale(3), scale(3, 3), scale(3, offset=1), scale(x=1, factor=4))
        print(collect(1), collect(1, 2, 3, key="v"))
        print(apply(square, 5), apply(add3, 1), apply(lambda v: -v, 2), counter()())
        print(make_adder(10)(5), (lambda a, b=2, *c, d=4, **e: (a, b, c, d, e))(1, 2, 3, d=5, z=6))
        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)
        print([fib(i) for i in range(12)])
        def outer():
            total = 1
            items = [1, 2, 3]
            def inner():
                return sum(x * 2 for x in items) + total
            return inner()
        print(outer())
    """,
    "default_arguments": """
        def remember(x, seen=[]):
            seen.append(x)
            return len(seen)
        print(remember(1), remember(2), remember(3, []), remember(4))
        lr = 0.1
        def step(w, lr=lr):
            return w - lr
        lr = 0.5
        print(step(1.0), step(1.0, lr))
    """,
    "imports": """
        import math
        from math import sqrt, pi, exp, inf
        import torch
        import torch.nn as nn
        import torch.optim as optim
        import torch.nn.functional as F
        from torch import nn, optim
        from torch.nn import functional as F
        from torch import Tensor
        from torch.autograd import grad
        x = torch.tensor([1.0, -1.0], requires_grad=True)
        y = F.relu(x).sum()
        (g,) = grad(y, [x])
        print(math.sqrt(2), sqrt(16.0), pi, exp(0), inf, math.e, math.tau)
        print(isinstance(x, Tensor), g)
    """,
    "math": """
        import math
        print(math.floor(2.7), math.ceil(2.1), math.trunc(-2.7), math.fabs(-3),
              math.log(8, 2), math.log2(8), math.log10(1000), math.exp(1))
        print(math.sin(0), math.cos(0), math.tan(0), math.tanh(1), math.atan2(1, 1),
              math.hypot(3, 4), math.isclose(0.1 + 0.2, 0.3), math.degrees(math.pi))
        print(math.isfinite(1.0), math.isnan(math.nan), math.isinf(math.inf),
              math.factorial(10), math.comb(10, 3), math.perm(5, 2), math.prod([1, 2, 3, 4]),
              math.fsum([0.1] * 10), math.gcd(12, 18), math.isqrt(17))
    """,
    "formatting": """
        import torch
        loss = torch.tensor(0.123456)
        for i in range(2):
            print(f"epoch {i}: loss={loss.item():.4f}")
            print("%.3f" % loss.item(), "%d/%d" % (i, 2), "%5.1f|%-4d|%s|%r|%%" % (3.14159, 7,
                  "s", "r"))
            print("{:.2f}".format(loss.item()), "{} {}".format(i, "x"), "{0}{0}".format("ab"),
                  "{name:>6}".format(name="n"), "{:{w}.{p}f}".format(3.14159, w=8, p=2),
                  "{!r}".format("q"), "{{literal}}".format())
        print("%(a)s-%(b)03d" % {"a": "x", "b": 7}, "%s" % loss, "{}".format(loss), "%s" % [1])
        print("a,b,c".split(","), "  pad ".strip(), "Ab".upper(), "Ab".lower(), "-".join("ab"),
              "abc".replace("b", "BB"), "x".ljust(3) + "|", "7".zfill(3), "abc".startswith("a"),
              "abc".endswith("bc"), "abcb".count("b"), "abc".find("c"), "a b".split())
        s = "total: %d"
        s %= 3
        print(s)
    """,
    "del_statement": """
        x = 1
        y = [1, 2, 3, 4]
        d = {"a": 1, "b": 2}
        del x
        del y[0], d["a"]
        del y[1:]
        print(y, d)
    """,
    "underscore_loop_name": """
        rows = [[0] * 3 for _ in range(2)]
        total = 0
        for _ in range(4):
            total += 1
        print(rows, total, _)
    """,
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_runs_like_python(name: str) -> None:
    runs_like_python(PROGRAMS[name])


# Programs whose backward torch's engine runs: every node, in order, with what it received
# and passed on, and the leaves' grads (test_oracle's check), besides the values above.
BACKWARD_PROGRAMS = {
    "params_in_comprehensions": """
        import torch
        torch.manual_seed(0)
        params = [torch.randn(3, requires_grad=True) for _ in range(3)]
        x = torch.tensor([1.0, 2.0, 3.0])
        loss = sum(((p * x) ** 2).sum() for p in params)
        loss.backward()
        grads = [p.grad for p in params]
        norms = {i: round(g.norm().item(), 4) for i, g in enumerate(grads)}
        print(loss, norms)
    """,
    "training_with_a_while_loop": """
        import torch
        w = torch.tensor([2.0, -3.0], requires_grad=True)
        lr = 0.1
        step = 0
        loss = (w ** 2).sum()
        while loss.item() > 0.5 and step < 50:
            w.grad = None
            loss = (w ** 2).sum()
            loss.backward()
            with torch.no_grad():
                w -= lr * w.grad
            step += 1
            if step % 10 == 0:
                print(f"step {step}: loss={loss.item():.4f}")
        else:
            print("stopped at", step)
        print(step, w)
    """,
    "lambda_and_closure_in_the_graph": """
        import torch
        def make_layer(weight):
            return lambda v: (v * weight).tanh()
        w = torch.tensor([0.5, -1.5], requires_grad=True)
        layer = make_layer(w)
        x = torch.tensor([1.0, 2.0])
        out = sorted([layer(x), layer(x * 2)], key=lambda t: t.sum().item())
        y = sum(t.sum() for t in out)
        y.backward()
        print(y, w.grad)
    """,
    "caught_error_then_backward": """
        import torch
        a = torch.tensor([1.0, 3.0], requires_grad=True)
        try:
            bad = a.view(3)
        except RuntimeError as e:
            print("view failed:", e)
            bad = a * 2
        y = (bad ** 2).sum()
        y.backward()
        print(a.grad)
    """,
}


@pytest.mark.parametrize("name", sorted(BACKWARD_PROGRAMS))
def test_backward_programs_match_torch(name: str) -> None:
    assert_matches_native(BACKWARD_PROGRAMS[name])
    runs_like_python(BACKWARD_PROGRAMS[name])


def test_comprehension_names_do_not_name_tensors_in_the_graph() -> None:
    program = run_program(T + "w = torch.ones(2, requires_grad=True)\n"
                          "b = torch.zeros(2, requires_grad=True)\n"
                          "grads = [p * 2 for p in [w, b]]\n")
    assert program.name_of(program.namespace["w"]) == "w"
    assert program.name_of(program.namespace["b"]) == "b"
    assert "p" not in program.namespace


def test_tensors_kept_in_a_dict_are_named_after_it() -> None:
    program = run_program(T + "params = {'w': torch.ones(2, requires_grad=True)}\n")
    assert program.name_of(program.namespace["params"]["w"]) == "params['w']"


def test_as_callable_runs_a_program_function_through_the_interpreter() -> None:
    """The helper the allowlist's callbacks (register_hook) use: a plain callable that
    runs the program's function with the interpreter's caps and errors."""
    from autoviz.runner.interp import Interpreter
    from autoviz.runner.program import _parse

    program = Program(source="")
    interp = Interpreter(program, Limits())
    interp.run(_parse("def double(g):\n    return g * 2\nbad = lambda g: g.nope\n", Limits()))
    double = interp._as_callable(program.namespace["double"])
    assert torch.equal(double(torch.ones(2)), torch.full((2,), 2.0))
    from autoviz.runner.values import _Failure

    with pytest.raises(_Failure) as info:
        interp._as_callable(program.namespace["bad"])(torch.ones(1))
    assert isinstance(info.value.exc, AttributeError)


# ---- Python as the oracle: programs that fail -------------------------------------------

FAILING = {
    "uncaught_raise": """
        def check(x):
            raise ValueError(f"bad {x}")
        check(1)
    """,
    "raise_a_class": "raise ValueError\n",
    "raise_from": """
        try:
            raise KeyError("k")
        except KeyError as e:
            raise RuntimeError(f"wrapped {e}") from e
    """,
    "bare_reraise_keeps_the_first_line": """
        try:
            1 / 0
        except ZeroDivisionError:
            print("cleaning up")
            raise
    """,
    "reraise_a_caught_error": """
        try:
            [][0]
        except IndexError as e:
            raise e
    """,
    "raise_a_number": "raise 5\n",
    "except_a_number": """
        try:
            1 / 0
        except 5:
            pass
    """,
    "except_that_does_not_match": """
        try:
            1 / 0
        except (KeyError, TypeError):
            pass
    """,
    "assert_with_message": """
        x = 2
        assert x > 3, f"x is {x}"
    """,
    "assert_without_message": "assert []\n",
    "free_variable_not_yet_bound": """
        def f():
            g = lambda: y
            v = g()
            y = 1
        f()
    """,
    "unbound_local": """
        total = 1
        def f():
            total += 1
        f()
    """,
    "deleted_name": "x = 1\ndel x\nprint(x)\n",
    "comprehension_name_does_not_leak": "ys = [i for i in range(3)]\nprint(i)\n",
    "missing_argument": "def f(a, b):\n    return a\nf(1)\n",
    "missing_two_arguments": "def f(a, b, c):\n    return a\nf(1)\n",
    "too_many_arguments": "def f(a, b=1):\n    return a\nf(1, 2, 3)\n",
    "unexpected_keyword": "def f(a):\n    return a\nf(1, z=2)\n",
    "multiple_values": "def f(a, **kw):\n    return a\nf(1, a=2)\n",
    "missing_keyword_only": "def f(*, k):\n    return k\nf()\n",
    "lambda_missing_argument": "f = lambda x: x\nf()\n",
    "nested_function_qualname": """
        def make():
            def inner(x):
                return x
            return inner
        make()(1, 2)
    """,
    "key_error": "d = {'a': 1}\nd['b']\n",
    "unhashable_key": "d = {[1]: 2}\n",
    "unhashable_set_item": "s = {1}\ns.add([2])\n",
    "dict_changed_size": "d = {1: 1}\nfor k in d:\n    d[k + 1] = 1\n",
    "set_changed_size": "s = {1}\nfor k in s:\n    s.add(k + 1)\n",
    "generator_drawing_from_itself": """
        g = (x for x in range(5))
        g = (x
             for x in range(5) for z in g)
        print(list(g))
    """,
    "error_inside_a_generator": """
        def gen():
            return (1 / x for x in [1, 0])
        g = gen()
        print(list(g))
    """,
    "error_in_a_lambda_key": "xs = sorted([1, 'a'],\n            key=lambda v: v + 1)\n",
    "error_in_a_comprehension": T + "x = [t.view(5) for t in [torch.ones(2)]]\n",
    "len_of_a_generator": "g = (x for x in range(3))\nlen(g)\n",
    "reversed_generator": "g = (x for x in range(3))\nreversed(g)\n",
    "isinstance_of_a_non_type": "isinstance(1, 1)\n",
    "sorted_two_arguments": "sorted([1], [2])\n",
    "min_of_nothing": "min([])\n",
    "math_domain": "import math\nmath.sqrt(-1)\n",
    "math_range": "import math\nmath.exp(1000)\n",
    "format_numbering": "'{} {1}'.format(1, 2)\n",
    "format_index": "'{2}'.format(1)\n",
    "format_key": "'{x}'.format()\n",
    "format_code": "'{:d}'.format('a')\n",
    "format_conversion": "'{!x}'.format(1)\n",
    "format_brace": "'{'.format(1)\n",
    "percent_type": "'%d' % 'a'\n",
    "percent_arguments": "'%s %s' % (1,)\n",
    "popitem_empty": "{}.popitem()\n",
    "set_remove_missing": "s = {1}\ns.remove(9)\n",
    "tuple_index_missing": "(1, 2).index(5)\n",
    "list_remove_missing": "[1].remove(5)\n",
    "while_condition_fails": "while undefined:\n    pass\n",
    "error_through_finally": """
        def f():
            try:
                return [][1]
            finally:
                print("finally runs")
        f()
    """,
    "error_in_an_except_block": """
        try:
            1 / 0
        except ZeroDivisionError:
            {}["missing"]
    """,
    "sort_key_fails": "xs = [3, 1]\nxs.sort(key=lambda v: v.foo)\n",
    "not_a_mapping": "d = {**[1]}\n",
}


@pytest.mark.parametrize("name", sorted(FAILING))
def test_program_fails_like_python(name: str) -> None:
    fails_like_python(FAILING[name])


@pytest.mark.parametrize(("source", "message"), [
    ("break\n", "SyntaxError: 'break' outside loop"),
    ("continue\n", "SyntaxError: 'continue' not properly in loop"),
    ("def f():\n    break\n", "SyntaxError: 'break' outside loop"),
    ("for i in range(2):\n    def f():\n        continue\n",
     "SyntaxError: 'continue' not properly in loop"),
    ("for i in range(2):\n    pass\nelse:\n    break\n", "SyntaxError: 'break' outside loop"),
], ids=["break", "continue", "break-in-def", "continue-in-nested-def", "break-in-else"])
def test_break_outside_a_loop_is_pythons_syntax_error(source: str, message: str) -> None:
    with pytest.raises(SyntaxError) as native:
        compile(source, PROGRAM, "exec")
    with pytest.raises(ProgramError) as info:
        run_program(source)
    err = info.value
    assert err.message == message == f"SyntaxError: {native.value.msg}"
    assert err.lineno == native.value.lineno and err.refused is False


# ---- hostile input: each refusal, with the input that triggers it ----------------------

BOMBS = [
    pytest.param("x = [[0] * 10**4 for _ in range(10**4)]", 1, "in all", id="nested-lists"),
    pytest.param("x = [0 for _ in range(10**9)]", 1, "more than 100,000 items",
                 id="one-long-list"),
    pytest.param("x = {i: [0] * 50000 for i in range(1000)}", 1, "in all", id="dict-of-lists"),
    pytest.param("x = {i for i in range(10**9)}", 1, "set comprehension", id="huge-set"),
    pytest.param("x = {i: i for i in range(10**9)}", 1, "dict comprehension", id="huge-dict"),
    pytest.param("x = list(x for x in range(10**9))", 1, "list()", id="list-of-generator"),
    pytest.param("x = sorted(x for x in range(10**9))", 1, "sorted()", id="sorted-generator"),
    pytest.param("x = [0] * 50000\ny = [x for _ in range(10)]", 2, "in all",
                 id="shared-inner-list"),
    pytest.param("d = {}\nfor i in range(10**6):\n    d[i] = [0] * 99999", 3, "in all",
                 id="dict-values-in-all"),
    pytest.param("x = sorted(list(range(10**5)) + list(range(10**5)), key=lambda v: -v)", 1,
                 "too long", id="sorted-huge-list"),
    pytest.param("x = [1]\nx.extend(range(10**6))", 2, "list.extend()", id="extend"),
    pytest.param("x = [0] * 10\nx.insert(0, [0] * 99999)", 2, "list", id="insert-nested"),
    pytest.param("s = {1}\nt = s.union(range(10**9))", 2, "set.union()", id="set-union"),
    pytest.param("d = {}\nd.update((i, i) for i in range(10**6))", 2, "dict over",
                 id="dict-update"),
    pytest.param("x = dict((i, i) for i in range(10**6))", 1, "dict() over", id="dict-of-pairs"),
    pytest.param("x = dict(zip(range(10**6), range(10**6)))", 1, "zip()", id="dict-of-zip"),
    pytest.param("def f(a=[]):\n    a.append([0] * 50000)\n    return a\nfor i in range(9):\n"
                 "    f()", 2, "in all", id="default-argument-grows"),
    pytest.param("def f(a=[]):\n    a.append(a)\n    return a\nfor i in range(99):\n"
                 "    f()", 2, "nests", id="default-argument-holds-itself"),
    pytest.param("x = [0] * 99999\nwhile True:\n    x = x + [1]", 3, "too long",
                 id="while-growing-list"),
    pytest.param("x = 'a' * 99000\ny = ','.join([x for i in range(5)])", 2, "characters",
                 id="join"),
    pytest.param("s = 'a' * 100000\nx = s.replace('a', s)", 2, "characters", id="replace"),
    pytest.param("x = 'a'.ljust(10**9)", 1, "too wide", id="ljust"),
    pytest.param("x = '{:>1000000000}'.format(1)", 1, "above 1000", id="format-width"),
    pytest.param("x = '{:{w}}'.format(1, w=10**9)", 1, "above 1000", id="format-nested-width"),
    pytest.param("x = '%1000000000d' % 1", 1, "above 1000", id="percent-width"),
    pytest.param("x = '%.100000f' % 1.5", 1, "above 1000", id="percent-precision"),
    pytest.param("x = '%*d' % (10**9, 1)", 1, "'*' widths", id="percent-star"),
    pytest.param("x = '%s' % ([0] * 100000,)", 1, "characters", id="percent-long-list"),
    pytest.param(T + "x = torch.ones(6, 6, 6, 6, 6, 6, 6, 6)\ns = '%s' % x", 3, "characters",
                 id="percent-8d-tensor"),
    pytest.param(T + "x = torch.ones(6, 6, 6, 6, 6, 6, 6, 6)\ns = '{}'.format(x)", 3,
                 "characters", id="format-8d-tensor"),
    pytest.param(T + "x = torch.ones(6, 6, 6, 6, 6, 6, 6, 6)\nprint({'a': x})", 3,
                 "characters", id="print-dict-of-8d-tensor"),
    pytest.param(T + "x = torch.ones(6, 6, 6, 6, 6, 6, 6, 6)\nassert False, x", 3,
                 "characters", id="assert-8d-tensor"),
    pytest.param(T + "x = torch.ones(6, 6, 6, 6, 6, 6, 6, 6)\nraise ValueError(x)", 3,
                 "text or numbers", id="exception-of-a-tensor"),
    pytest.param("import math\nx = math.factorial(10**6)", 2, "too big", id="factorial"),
    pytest.param("import math\nx = math.factorial(21)", 2, "too big", id="factorial-21"),
    pytest.param("import math\nx = math.comb(10**6, 5000)", 2, "too big", id="comb"),
    pytest.param("import math\nx = math.perm(10**6)", 2, "too big", id="perm"),
    pytest.param("import math\nx = math.prod(range(1, 10**5))", 2, "too big", id="prod"),
    pytest.param("x = pow(10, 10**9)", 1, "too big", id="pow"),
    pytest.param("x = pow(2, 10**10**10)", 1, "too big", id="pow-tower"),
    pytest.param("x = 10**10**10", 1, "too big", id="power-tower"),
]


@pytest.mark.parametrize(("source", "lineno", "contains"), BOMBS)
def test_bombs_are_refused_before_the_work(source: str, lineno: int, contains: str) -> None:
    refused(source, lineno, contains=contains, seconds=CAPPED)


def test_modular_pow_of_a_huge_exponent_is_cheap_and_runs() -> None:
    assert run_program("x = pow(10, 10**18, 7)\n").namespace["x"] == pow(10, 10**18, 7)


STATEMENT_CAP = [
    pytest.param("x = 1\nwhile True:\n    pass", 2, id="while-true"),
    pytest.param("while 1:\n    x = 1", 1, id="while-1"),
    pytest.param("n = 0\nwhile n < 10**9:\n    n += 1", 2, id="while-counting"),
    pytest.param("while True:\n    for i in range(10):\n        pass", 1, id="for-inside"),
    pytest.param("i = 0\nwhile True:\n    i += 1\n    if i < 0:\n        break", 2,
                 id="break-never-taken"),
    pytest.param("while True:\n    continue", 1, id="continue-only"),
    pytest.param("def spin():\n    while True:\n        pass\nspin()", 2, id="in-a-function"),
    pytest.param("while True:\n    while True:\n        pass", 2, id="nested"),
    pytest.param("while True:\n    try:\n        pass\n    except Exception:\n        pass", 1,
                 id="try-inside"),
]


@pytest.mark.parametrize(("source", "lineno"), STATEMENT_CAP)
def test_while_loops_are_stopped_at_the_statement_cap(source: str, lineno: int) -> None:
    err = refused(source, lineno, seconds=CAPPED)
    assert f"the while loop on line {lineno} ran more than 200,000 statements" in err.message


@pytest.mark.parametrize("source", [
    "x = sum(x for x in range(10**9))",
    "x = sum(sum(1 for a in range(10**6)) for b in range(10**6))",
    "x = any(x < 0 for x in range(10**9))",
    "x = max(map(abs, range(10**9)))",
    "x = [y for y in (z for z in range(10**9)) if y < 0]",
    "for v in filter(lambda v: v < 0, range(10**9)):\n    pass",
    "x = 0\nfor a in range(10**4):\n    x += sum(1 for b in range(10**4))",
], ids=["sum", "nested-sums", "any", "max-map", "filtered", "filter-loop", "loop-of-sums"])
def test_generators_count_every_item_against_the_statement_cap(source: str) -> None:
    err = refused(source, {1, 2, 3}, limits=Limits(statements_executed=50_000),
                  seconds=CAPPED)
    assert "50,000 statements" in err.message or "100,000 items" in err.message, err.message


def test_a_small_statement_cap_stops_a_comprehension_early() -> None:
    start = time.perf_counter()
    with pytest.raises(ProgramError) as info:
        run_program("x = [i for i in range(10**9)]\n", Limits(statements_executed=1000))
    assert "1,000 statements" in info.value.message
    assert time.perf_counter() - start < FAST


def _nested_comprehension(levels: int) -> str:
    text = "0"
    for i in range(levels):
        text = f"[{text} for a{i} in range(2)]"
    return "x = " + text


def _nested_sums(levels: int) -> str:
    text = "1"
    for i in range(levels):
        text = f"sum({text} for a{i} in range(9))"
    return "x = " + text


@pytest.mark.parametrize("source", [
    _nested_comprehension(28), _nested_comprehension(55),
    _nested_sums(25),
], ids=["28-deep", "55-deep", "sums-25-deep"])
def test_deeply_nested_comprehensions_are_refused(source: str) -> None:
    # every comprehension made counts a statement, as every item does (a smaller cap: the
    # making is the slow part, and the machine is shared)
    err = refused(source, 1, limits=Limits(statements_executed=50_000), seconds=CAPPED)
    assert "50,000 statements" in err.message or "nests too deeply" in err.message, err.message


def test_a_nested_comprehension_within_the_caps_runs() -> None:
    source = _nested_comprehension(10)
    native: dict[str, Any] = {}
    exec(source, native)  # the test's own text
    assert run_program(source).namespace["x"] == native["x"]


@pytest.mark.parametrize("source", [
    "g = (x for x in range(3))\nfor i in range(100):\n    g = (y for y in g)\nprint(list(g))",
    "g = [1]\nfor i in range(10**5):\n    g = map(abs, g)\nprint(list(g))",
    "g = [1]\nfor i in range(10**5):\n    g = zip(g, (y for y in [1]))\nprint(list(g))",
    "g = [1]\nfor i in range(10**5):\n    g = enumerate(x for x in g)\nprint(list(g))",
    "g = [1]\nfor i in range(10**5):\n    g = filter(None, g)\nprint(list(g))",
], ids=["genexp", "map", "zip", "enumerate", "filter"])
def test_generators_cannot_nest_without_end(source: str) -> None:
    refused(source, 3, contains="more than 50 deep")


# A refusal is never the program's to catch: no except (bare, Exception, the error's own
# class) stops it, and no finally runs after it (a return there would swallow it).
SWALLOW = [
    pytest.param("try:\n    x = [0] * 10**12\nexcept Exception:\n    pass", 2, id="exception"),
    pytest.param("try:\n    x = [0] * 10**12\nexcept:\n    pass", 2, id="bare"),
    pytest.param("try:\n    x = 10**10**10\nexcept (ValueError, OverflowError, "
                 "ArithmeticError):\n    pass", 2, id="overflow"),
    pytest.param(T + "try:\n    x = torch.zeros(10**10)\nexcept RuntimeError:\n    pass", 3,
                 id="torch-bytes"),
    pytest.param("try:\n    while True:\n        pass\nexcept Exception:\n    pass", 2,
                 id="statement-cap"),
    pytest.param("for i in range(10**6):\n    try:\n        print('x' * 1000)\n    except:\n"
                 "        pass", 3, id="output-cap"),
    pytest.param("def f():\n    try:\n        x = [0] * 10**12\n    finally:\n        return 1\n"
                 "print(f())", 3, id="return-in-finally"),
    pytest.param("for i in range(3):\n    try:\n        x = [0] * 10**12\n    finally:\n"
                 "        continue", 3, id="continue-in-finally"),
    pytest.param("while True:\n    try:\n        x = [0] * 10**12\n    finally:\n"
                 "        break", 3, id="break-in-finally"),
    pytest.param("try:\n    import os\nexcept Exception:\n    pass", 2, id="static-refusal"),
    pytest.param("try:\n    x = [v for v in range(10**9)]\nexcept Exception:\n    pass", 2,
                 id="comprehension-cap"),
    pytest.param("def f(n):\n    return f(n + 1)\ntry:\n    f(0)\nexcept Exception:\n    pass", 2,
                 id="recursion-cap"),
    pytest.param("try:\n    s = f'{1:>{10**9}}'\nexcept ValueError:\n    pass", 2,
                 id="fstring-width"),
    pytest.param("def f():\n    x = [0] * 10**12\ntry:\n    f()\nexcept Exception as e:\n"
                 "    print(e)", 2, id="in-a-function"),
]


@pytest.mark.parametrize(("source", "lineno"), SWALLOW)
def test_no_except_catches_a_refusal(source: str, lineno: int) -> None:
    refused(source, lineno, seconds=CAPPED)  # caught, the program would have run to its end


def test_no_code_of_the_program_runs_after_a_refusal() -> None:
    """A finally runs after the program's own error, as in Python, never after a refusal
    (seen through the rerun hook, which sees every new leaf the program makes)."""
    from autoviz.runner.interp import Rerun

    lines: list[int | None] = []
    rerun = Rerun(on_leaf=lambda tensor, line: lines.append(line))
    after = "finally:\n    w = torch.ones(1, requires_grad=True)\n"
    with pytest.raises(ProgramError) as info:
        run_program(T + "try:\n    x = [0] * 10**12\n" + after, rerun=rerun)
    assert info.value.refused and info.value.lineno == 3 and lines == []
    with pytest.raises(ProgramError) as info:
        run_program(T + "try:\n    x = 1 / 0\n" + after, rerun=rerun)
    assert not info.value.refused and info.value.lineno == 3 and lines == [5]


@pytest.mark.parametrize(("raised", "message"), [
    (MemoryError(), "the program ran out of memory"),
    (RecursionError("maximum recursion depth exceeded"), "the program nests too deeply"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:117] . DefaultCPUAllocator: can't "
                  "allocate memory: you tried to allocate 800000000000 bytes."),
     "the program ran out of memory"),
], ids=["MemoryError", "RecursionError", "torch-allocator"])
@pytest.mark.parametrize("handler", ["except Exception:", "except:", "except RuntimeError:"])
def test_running_out_of_memory_or_stack_is_never_caught(monkeypatch: pytest.MonkeyPatch,
                                                        raised: BaseException, message: str,
                                                        handler: str) -> None:
    """What the machine runs out of is not the program's error: a MemoryError or
    RecursionError from Python, or torch's allocator failing, ends the program whatever
    its except clauses say (divmod stands in for any call that hits the limit)."""

    def exhausted(*args: Any) -> Any:
        raise raised

    monkeypatch.setattr(builtins, "divmod", exhausted)
    err = refused(f"try:\n    x = divmod(7, 2)\n{handler}\n    x = 'caught'\n", 2)
    assert err.message == message


def test_the_interpreters_own_recursion_limit_is_not_catchable() -> None:
    body = "-(" * 50 + "f(n - 1)" + ")" * 50
    source = (f"def f(n):\n    if n == 0:\n        return 0\n    return {body}\n"
              "try:\n    x = f(15)\nexcept Exception:\n    x = 'caught'\n")
    with pytest.raises(ProgramError) as info:
        run_program(source)
    assert info.value.refused and "nests too deeply" in info.value.message


FORBIDDEN = [
    pytest.param("try:\n    pass\nexcept BaseException:\n    pass", 3, "except BaseException",
                 id="except-BaseException"),
    pytest.param("try:\n    pass\nexcept (ValueError, KeyboardInterrupt):\n    pass", 3,
                 "except KeyboardInterrupt", id="except-KeyboardInterrupt-in-tuple"),
    pytest.param("try:\n    pass\nexcept SystemExit as e:\n    pass", 3, "except SystemExit",
                 id="except-SystemExit"),
    pytest.param("try:\n    pass\nexcept MemoryError:\n    pass", 3, "except MemoryError",
                 id="except-MemoryError"),
    pytest.param("try:\n    pass\nexcept RecursionError:\n    pass", 3, "except RecursionError",
                 id="except-RecursionError"),
    pytest.param("raise SystemExit(1)", 1, "raising SystemExit", id="raise-SystemExit"),
    pytest.param("raise KeyboardInterrupt", 1, "raising KeyboardInterrupt",
                 id="raise-KeyboardInterrupt"),
    pytest.param("try:\n    pass\nexcept* ValueError:\n    pass", 1, "except*", id="except-star"),
    pytest.param("x = 1\ntry:\n    1 / 0\nexcept Warning:\n    pass", 4, "Warning()",
                 id="except-unknown-class"),
    pytest.param("raise OSError('x')", 1, "OSError()", id="raise-unlisted-class"),
]


@pytest.mark.parametrize(("source", "lineno", "contains"), FORBIDDEN)
def test_exceptions_that_stop_a_process_are_refused(source: str, lineno: int,
                                                    contains: str) -> None:
    refused(source, lineno, contains=contains)


def test_a_refused_except_runs_no_line_before_it() -> None:
    source = ("for i in range(10**6):\n    print('x' * 1000)\ntry:\n    pass\n"
              "except BaseException:\n    pass\n")
    refused(source, 5)


ESCAPES = [
    pytest.param("f = lambda: 0\ng = f.__globals__", 2, "'__globals__'", id="lambda-globals"),
    pytest.param("f = lambda: 0\nc = f.__code__", 2, "'__code__'", id="lambda-code"),
    pytest.param("def g():\n    x = 1\n    return lambda: x\nc = g().__closure__", 4,
                 "'__closure__'", id="closure-cells"),
    pytest.param("def f(a=1):\n    return a\nd = f.__defaults__", 3, "'__defaults__'",
                 id="defaults"),
    pytest.param("f = lambda: 0\nb = f.body", 2, "attributes of the function", id="body"),
    pytest.param("f = lambda: 0\nb = f.enclosing", 2, "attributes of the function",
                 id="enclosing"),
    pytest.param("f = lambda: 0\nb = f.defaults", 2, "attributes of the function",
                 id="plain-defaults"),
    pytest.param("try:\n    1 / 0\nexcept Exception as e:\n    t = e.__traceback__", 4,
                 "'__traceback__'", id="traceback"),
    pytest.param("try:\n    1 / 0\nexcept Exception as e:\n    t = e.__class__.__mro__", 4,
                 "'__mro__'", id="exception-class-mro"),
    pytest.param("try:\n    1 / 0\nexcept Exception as e:\n    t = e.__context__", 4,
                 "'__context__'", id="context"),
    pytest.param("try:\n    1 / 0\nexcept Exception as e:\n    t = e.with_traceback", 4,
                 "only .args", id="with_traceback"),
    pytest.param("try:\n    1 / 0\nexcept Exception as e:\n    t = e.autoviz_line", 4,
                 "only .args", id="exception-own-attribute"),
    pytest.param("g = (x for x in range(3))\nf = g.gi_frame", 2, "attributes of a generator",
                 id="gi_frame"),
    pytest.param("g = (x for x in range(3))\nf = g.draw", 2, "attributes of a generator",
                 id="generator-internals"),
    pytest.param("d = {1: 2}\nm = d.keys().mapping", 2, "attributes of a dict_keys",
                 id="view-mapping"),
    pytest.param("d = {1: 2}\nc = d.__class__.__mro__", 2, "'__mro__'", id="dict-class"),
    pytest.param("x = dict.fromkeys(range(3))", 1, "attributes of the function dict",
                 id="dict-fromkeys"),
    pytest.param("x = {}.fromkeys(range(3))", 1, ".fromkeys", id="dict-method-off-list"),
    pytest.param("x = 'a'.encode()", 1, ".encode", id="str-encode"),
    pytest.param("x = '{0.__class__}'.format(1)", 1, "not attribute or item", id="format-attr"),
    pytest.param("x = '{0.real}'.format(1)", 1, "not attribute or item", id="format-plain-attr"),
    pytest.param("x = '{0[0]}'.format([1])", 1, "not attribute or item", id="format-item"),
    pytest.param("x = '{:{0.real}}'.format(1)", 1, "not attribute or item",
                 id="format-attr-in-spec"),
    pytest.param("x = type(1).__bases__", 1, "'__bases__'", id="type-bases"),
    pytest.param("import math\nx = math.__dict__", 2, "'__dict__'", id="math-dict"),
    pytest.param("import math\nx = math.sys", 2, None, id="math-sys"),
    pytest.param("import math\nm = math", 2, "module math", id="math-as-value"),
    pytest.param("import math\nf = math.sqrt", 2, "math.sqrt", id="math-function-as-value"),
    pytest.param("from math import *", 1, "import *", id="import-star"),
    pytest.param("import os", 1, "'os'", id="import-os"),
    pytest.param("import math.os", 1, "'math.os'", id="import-math-os"),
    pytest.param("from os import path", 1, "from os import path", id="from-os"),
    pytest.param(T + "import math\nx = math.floor(torch.ones(1))", 3, "torch.floor",
                 id="math-of-a-tensor"),
    pytest.param("x = _y = 1", 1, "'_y'", id="underscore-prefixed-name"),
]


@pytest.mark.parametrize(("source", "lineno", "contains"), ESCAPES)
def test_escapes_through_new_values_are_refused(source: str, lineno: int,
                                                contains: str | None) -> None:
    if contains is None:  # a name math does not have: Python's own AttributeError
        with pytest.raises(ProgramError) as info:
            run_program(source)
        assert info.value.lineno == lineno and "AttributeError" in info.value.message
        return
    refused(source, lineno, contains=contains)


KEYS = [
    pytest.param(T + "d = {torch.ones(1): 1}", 2, id="dict-literal"),
    pytest.param(T + "d = {}\nd[torch.ones(1)] = 1", 3, id="item-assignment"),
    pytest.param(T + "s = {torch.ones(1)}", 2, id="set-literal"),
    pytest.param(T + "s = set()\ns.add(torch.ones(1))", 3, id="set-add"),
    pytest.param(T + "s = set([torch.ones(1)])", 2, id="set-of-list"),
    pytest.param(T + "d = {t: 1 for t in [torch.ones(1)]}", 2, id="dict-comprehension"),
    pytest.param(T + "s = {t for t in [torch.ones(1)]}", 2, id="set-comprehension"),
    pytest.param(T + "d = dict([(torch.ones(1), 1)])", 2, id="dict-of-pairs"),
    pytest.param(T + "t = torch.ones(1)\nx = t in {1: 2}", 3, id="in-dict"),
    pytest.param(T + "d = {1: 2}\nx = d.get(torch.ones(1))", 3, id="get"),
    pytest.param(T + "d = {(1, torch.ones(1)): 2}", 2, id="tensor-in-tuple-key"),
]


@pytest.mark.parametrize(("source", "lineno"), KEYS)
def test_a_tensor_is_never_a_dict_key(source: str, lineno: int) -> None:
    refused(source, lineno, contains="Python hashes a tensor by its identity")


@pytest.mark.parametrize("source", [
    T + "d = {torch.float32: 1}", "r = range(3)\nd = {r: 1}",
    "def f():\n    pass\nd = {f: 1}" if False else "d = {slice(1): 1}",
], ids=["dtype", "range", "slice"])
def test_dict_keys_are_plain_values(source: str) -> None:
    with pytest.raises(ProgramError) as info:
        run_program(source)
    assert info.value.refused or "unhashable" in info.value.message


FUNCTION_VALUES = [
    pytest.param("def f():\n    pass\nprint(f)", 3, id="print"),
    pytest.param("def f():\n    pass\nx = [f]", 3, id="in-a-list"),
    pytest.param("def f():\n    pass\nd = {'f': f}", 3, id="in-a-dict"),
    pytest.param("def f():\n    pass\ns = str(f)", 3, id="str"),
    pytest.param("def f():\n    pass\ns = f'{f}'", 3, id="fstring"),
    pytest.param("def f():\n    pass\nx = f + 1", 3, id="operation"),
    pytest.param("x = [f for f in [lambda: 0]]", 1, id="lambda-in-a-list"),
    # a generator makes its items on its own line, wherever they are drawn
    pytest.param("g = (lambda: i for i in range(3))\nprint(list(g))", 1, id="lambda-generator"),
    pytest.param(T + "x = torch.stack(lambda: 0)", 2, id="passed-to-torch"),
    pytest.param(T + "x = torch.ones(1)\ny = x.add(lambda: 0)", 3, id="passed-to-a-method"),
    pytest.param("x = '%s' % (lambda: 0)", 1, id="percent"),
    pytest.param("f = lambda: 0\nd = {}\nd['f'] = f", 3, id="stored-in-a-dict"),
    pytest.param("f = lambda: 0\na, b = f, f", 2, id="tuple-unpacking"),
]


@pytest.mark.parametrize(("source", "lineno"), FUNCTION_VALUES)
def test_functions_are_called_assigned_or_passed_never_held(source: str, lineno: int) -> None:
    err = refused(source, lineno)
    assert "()" in err.message and "called" in err.message, err.message


def test_builtin_and_torch_functions_are_still_not_values() -> None:
    refused("def apply(fn, x):\n    return fn(x)\ny = apply(abs, -1)", 3, contains="abs")
    refused(T + "d = {'exp': torch.exp}", 2, contains="torch.exp")
    refused("def f(g=print):\n    return g\n", 1, contains="print")


RECURSION = [
    pytest.param("def f(n):\n    return f(n + 1)\nf(0)", 2, id="def"),
    pytest.param("f = lambda n: f(n + 1)\nf(0)", 1, id="lambda"),
    pytest.param("(lambda f: f(f))(lambda f: f(f))", 1, id="lambda-applied-to-itself"),
    pytest.param("def a(n):\n    return b(n)\ndef b(n):\n    return a(n)\na(0)", {2, 4},
                 id="mutual"),
    pytest.param("def f(n):\n    return [f(n + 1) for _ in range(2)]\nf(0)", 2,
                 id="in-a-comprehension"),
    pytest.param("def f(n):\n    return sum(f(n + 1) for _ in range(2))\nf(0)", 2,
                 id="in-a-generator"),
    pytest.param("def g(a):\n    return g(a) + g(a)\ng(1)", 2, id="branching"),
    pytest.param("def f(n):\n    def inner():\n        return f(n)\n    return inner()\nf(0)", 3,
                 id="through-a-closure"),
    pytest.param("xs = sorted([1, 2], key=lambda v: sorted([v], key=lambda w: f(w)))\n"
                 "def f(w):\n    return f(w)", 1, id="through-sorted-key"),
]


@pytest.mark.parametrize(("source", "lineno"), RECURSION)
def test_recursion_is_capped(source: str, lineno: Any) -> None:
    if "f(w)" in source:  # f is not defined yet when the key runs: Python's NameError
        with pytest.raises(ProgramError) as info:
            run_program(source)
        assert "NameError" in info.value.message
        return
    refused(source, lineno, contains="more than 16 deep")


def test_sorting_tensors_counts_its_comparisons() -> None:
    source = T + "xs = [torch.tensor(float(i)) for i in range(2000)]\nys = sorted(xs)\n"
    err = refused(source, 3, limits=Limits(statements_executed=10_000))
    assert "10,000 statements" in err.message
    assert run_program(T + "xs = [torch.tensor(2.0), torch.tensor(1.0)]\n"
                       "ys = sorted(xs)\n").namespace["ys"][0].item() == 1.0
    fails_like_python(T + "xs = sorted([torch.ones(2), torch.zeros(2)])\n")


def test_the_comprehension_cap_counts_before_the_item_is_made(monkeypatch:
                                                              pytest.MonkeyPatch) -> None:
    """The item past the cap is never made: the refusal comes first."""
    made: list[int] = []
    source = "def make(i):\n    return i\nx = [make(i) for i in range(50)]\n"
    from autoviz.runner.pycode import PythonCode

    real = PythonCode._call_user

    def spy(self: Any, func: Any, args: list, kwargs: dict) -> Any:
        made.append(args[0])
        return real(self, func, args, kwargs)

    monkeypatch.setattr(PythonCode, "_call_user", spy)
    with pytest.raises(ProgramError) as info:
        run_program(source, Limits(container_items=10))
    assert "more than 10 items" in info.value.message
    assert made == list(range(10))


def test_static_refusals_still_name_what_is_not_supported() -> None:
    refused("def f(a, /, b):\n    return a", 1, contains="positional-only")
    refused("def d(f):\n    return f\n@d\ndef g():\n    pass", {3, 4}, contains="decorators")
    refused("x = 1\ndel x.real", 2, contains="del takes names and items")
    refused("x = [1]\nwhile (n := 3):\n    pass", 2, contains=":=")
    refused("def f(a):\n    nonlocal a", 2, contains="nonlocal")
    refused("x = [1, 2]\na, *b, *c = x", 2, contains="multiple starred expressions")
    refused("for i in 5:\n    pass", 1, contains="cannot iterate")
    refused("x = [v for v in 5]", 1, contains="list comprehension cannot iterate")


def test_iterators_print_without_addresses_or_internal_names() -> None:
    output = run_program("g = (x for x in [1])\nprint(g, map(abs, [1]), filter(None, [1]), "
                         "enumerate([1]), zip([1], [2]), reversed([1]), [g])\n").output
    assert "0x" not in output and "autoviz" not in output and "_Lazy" not in output, output
    assert output.startswith("<generator object <genexpr>> <map object>")
