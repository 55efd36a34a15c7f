"""Torch as the oracle for the snippet corpus (``tests/corpus/<category>__<name>.py``).

:func:`native` runs a snippet with real Python and torch in a fresh subprocess (this module
is the driver there, and it never imports autoviz); :func:`ours` runs it through
:func:`autoviz.runner.program.run_program` in this process. Both give an :class:`Outcome`:
what the snippet printed, what its top-level variables hold (tensors with their values,
``.grad``, ``requires_grad``, ``is_leaf`` and ``grad_fn`` name; ``nn.Module`` variables with
their parameters, buffers and grads; numbers, strings, containers of those), the engine's
order of nodes in the snippet's last successful ``.backward()``, and the warnings raised.
:func:`compare` says ``same``, ``refused: ...`` (autoviz refused the program),
``failed: ...`` (both failed with the same error, on the same line) or ``differs: ...`` (a
wrong answer: the one outcome that is never acceptable). Floats agree to ``RTOL``; printed
text must agree exactly, but for object addresses (``0x...``). Warnings are not part of the
verdict (:func:`warnings_differ` reports them): torch raises some only once per process
(``TORCH_WARN_ONCE``), so in a run of many snippets which one sees them depends on order,
and anomaly mode's carry a traceback of the interpreter.

Natively, ``torch.Tensor.backward`` is wrapped so that before it runs, a Node hook is put on
every node reachable from the root (and removed after); the hooks append ``node.name()``
in the order the engine runs them. The corpus is our own fixed text: exec'ing it in the
test's subprocess is the point of an oracle. autoviz itself never execs anything. The two
sides run in different processes: a snippet must seed what it draws (``torch.manual_seed``)
and must not print in the order of a set of strings (hash seeds differ).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import subprocess
import sys
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

TESTS = Path(__file__).resolve().parent
CORPUS = TESTS / "corpus"
CATEGORIES = ("basics", "nn", "optim", "hooks", "higher", "python", "ops", "debug")
VERDICTS = ("same", "refused", "failed", "differs")
PREFIX = "torch::autograd::"
RTOL = 1e-5  # relative tolerance on every float (values and grads)
ATOL = 1e-7  # below this, two floats are both "zero" (relative error means nothing there)
SNIPPET = "<snippet>"
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_MAX_ITEMS = 1_000  # longer Python containers are compared by length only
_MAX_DEPTH = 4
_PRINT_FIELDS = ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")


@dataclass
class Outcome:
    """One run of a snippet, natively or through autoviz, as plain JSON-able data."""

    output: str = ""
    variables: dict[str, Any] = field(default_factory=dict)
    steps: list[str] | None = None  # node names of the last backward, in engine order
    backwards: int = 0  # successful .backward() calls
    error: str | None = None  # "RuntimeError: ..." (autoviz: ProgramError.message)
    error_line: int | None = None
    refused: bool = False  # autoviz refused the program (never set natively)
    warnings: list[str] = field(default_factory=list)


def snippets(corpus: Path = CORPUS) -> dict[str, str]:
    """Every snippet's source by name (the file's stem), sorted by name."""
    return {path.stem: path.read_text() for path in sorted(corpus.glob("*__*.py"))}


def category(name: str) -> str:
    return name.split("__", 1)[0]


# ---- what a value is, as data --------------------------------------------------------
def _tensor(t: torch.Tensor, with_grad: bool = True) -> dict[str, Any]:
    data = t.detach()
    if data.is_complex():
        data = torch.view_as_real(data)
    out: dict[str, Any] = {"kind": "tensor", "dtype": str(t.dtype), "shape": list(t.shape),
                           "value": data.cpu().tolist(), "requires_grad": t.requires_grad,
                           "is_leaf": t.is_leaf,
                           "grad_fn": None if t.grad_fn is None else t.grad_fn.name()}
    if with_grad:
        grad = t.grad if (t.is_leaf or t.retains_grad) else None
        out["grad"] = None if grad is None else _tensor(grad, with_grad=False)
    return out


def _module(m: Any) -> dict[str, Any]:
    return {"kind": "module", "type": type(m).__name__, "training": bool(m.training),
            "params": {n: _tensor(p) for n, p in m.named_parameters()},
            "buffers": {n: _tensor(b) for n, b in m.named_buffers()}}


def describe(value: Any, depth: int = 0) -> dict[str, Any]:
    """``value`` as comparable data; ``{"kind": "opaque"}`` for what is not compared
    (functions, optimizers, handles...)."""
    if isinstance(value, torch.Tensor):
        return _tensor(value)
    if isinstance(value, torch.nn.Module):
        return _module(value)
    if isinstance(value, torch.autograd.graph.Node):
        return {"kind": "node", "name": value.name()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"kind": "py", "type": type(value).__name__, "value": value}
    if isinstance(value, (complex, torch.dtype, torch.device)):
        return {"kind": "py", "type": type(value).__name__, "value": str(value)}
    if depth < _MAX_DEPTH and isinstance(value, (list, tuple)):  # torch.Size, return_types
        if len(value) > _MAX_ITEMS:
            return {"kind": "seq", "len": len(value), "items": None}
        return {"kind": "seq", "len": len(value),
                "items": [describe(v, depth + 1) for v in value]}
    if depth < _MAX_DEPTH and isinstance(value, dict) and len(value) <= _MAX_ITEMS:
        return {"kind": "dict", "keys": [repr(k) for k in value],
                "items": [describe(v, depth + 1) for v in value.values()]}
    if isinstance(value, (set, frozenset)) and all(
            isinstance(v, (bool, int, float, str, tuple)) for v in value):
        return {"kind": "set", "items": sorted(repr(v) for v in value)}
    if not isinstance(value, torch.nn.Module) and callable(getattr(value, "named_parameters",
                                                                   None)):
        try:  # a module autoviz keeps as something else that still answers like one
            return {"kind": "module", "type": type(value).__name__,
                    "training": bool(getattr(value, "training", True)),
                    "params": {n: _tensor(p) for n, p in value.named_parameters()},
                    "buffers": {n: _tensor(b) for n, b in value.named_buffers()}}
        except Exception:
            pass
    return {"kind": "opaque", "type": type(value).__name__}


_SKIPPED = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType,
            types.MethodType)


def variables(namespace: dict[str, Any]) -> dict[str, Any]:
    """The top-level variables worth comparing, described."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, value in namespace.items():
            if name.startswith("__") or isinstance(value, _SKIPPED):
                continue
            try:
                out[name] = describe(value)
            except Exception as exc:  # a value that cannot even be read
                out[name] = {"kind": "opaque", "type": f"{type(value).__name__} ({exc})"}
    return out


def _short(name: str) -> str:
    return name.removeprefix(PREFIX)


# ---- the native side (runs in the subprocess) ------------------------------------------
def _reachable(root: torch.Tensor) -> list[Any]:
    start = root.grad_fn
    if start is None and root.requires_grad:
        start = torch.autograd.graph.get_gradient_edge(root).node
    if start is None:
        return []
    seen, order, stack = {start}, [start], [start]
    while stack:
        for child, _ in stack.pop().next_functions:
            if child is not None and child not in seen:
                seen.add(child)
                order.append(child)
                stack.append(child)
    return order


def _run_native(source: str) -> Outcome:
    outcome = Outcome()
    traces: list[list[str]] = []
    original = torch.Tensor.backward

    def backward(self: torch.Tensor, gradient: Any = None, retain_graph: Any = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        names: list[str] = []
        handles = []
        for node in _reachable(self):
            handles.append(node.register_hook(
                lambda _gi, _go, node=node: names.append(node.name())))
        try:
            original(self, gradient, retain_graph, create_graph, inputs)
        finally:
            for handle in handles:
                handle.remove()
        traces.append(names)

    opts = torch._tensor_str.PRINT_OPTS
    saved_opts = {f: getattr(opts, f) for f in _PRINT_FIELDS}
    namespace: dict[str, Any] = {"__name__": "__main__"}
    buffer = io.StringIO()
    torch.set_num_threads(1)
    torch.set_grad_enabled(True)
    torch.manual_seed(0)  # a snippet that does not seed still runs the same every time
    try:
        with contextlib.redirect_stdout(buffer), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.Tensor.backward = backward
            try:
                exec(compile(source, SNIPPET, "exec"), namespace)  # our own corpus text
            except Exception as exc:
                outcome.error = f"{type(exc).__name__}: {exc}"
                tb = exc.__traceback__
                while tb is not None:
                    if tb.tb_frame.f_code.co_filename == SNIPPET:
                        outcome.error_line = tb.tb_lineno
                    tb = tb.tb_next
            finally:
                torch.Tensor.backward = original
            outcome.warnings = [f"{w.category.__name__}: {w.message}" for w in caught]
            outcome.variables = variables(namespace)
    finally:
        torch.Tensor.backward = original
        for key, value in saved_opts.items():
            setattr(opts, key, value)
        torch.set_grad_enabled(True)
        torch.autograd.set_detect_anomaly(False)
        torch.set_default_dtype(torch.float32)
    outcome.output = buffer.getvalue()
    outcome.backwards = len(traces)
    outcome.steps = [_short(n) for n in traces[-1]] if traces else None
    return outcome


def _serve() -> None:
    """The subprocess's main: a JSON object {name: source} on stdin; one JSON line per
    snippet on stdout, in order."""
    jobs = json.load(sys.stdin)
    out = sys.stdout
    for name, source in jobs.items():
        outcome = _run_native(source)
        out.write(json.dumps({"name": name, "outcome": outcome.__dict__}) + "\n")
        out.flush()


_DRIVER = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); import corpus_oracle; "
           "corpus_oracle._serve()")


def native_many(sources: dict[str, str], timeout: float = 600) -> dict[str, Outcome]:
    """Run every snippet natively, one after another in ONE fresh subprocess."""
    done = subprocess.run([sys.executable, "-c", _DRIVER], input=json.dumps(sources),
                          capture_output=True, text=True, timeout=timeout, cwd=TESTS)
    results = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            results[record["name"]] = Outcome(**record["outcome"])
    missing = [name for name in sources if name not in results]
    if missing:
        raise RuntimeError(f"the native driver gave no result for {missing[:3]} "
                           f"(exit {done.returncode}): {done.stderr[-2000:]}")
    return results


def native(source: str) -> Outcome:
    """Run one snippet with real Python and torch, in a fresh subprocess."""
    return native_many({"snippet": source})["snippet"]


# ---- our side --------------------------------------------------------------------------
def ours(source: str) -> Outcome:
    """Run one snippet through autoviz's runner (its default Limits), in this process."""
    from autoviz.runner.errors import ProgramError
    from autoviz.runner.program import run_program

    try:
        program = run_program(source)
    except ProgramError as exc:
        return Outcome(error=exc.message, error_line=exc.lineno, refused=exc.refused)
    except Exception as exc:  # run_program promises nothing else escapes: a bug
        return Outcome(error=f"{type(exc).__name__} escaped run_program: {exc}")
    steps = None
    if program.traces:
        steps = [_short(step.name) for step in program.traces[-1].steps]
    return Outcome(output=program.output, variables=variables(program.namespace),
                   steps=steps, backwards=len(program.traces),
                   warnings=[message for _, message in program.warnings])


# ---- the comparison --------------------------------------------------------------------
def _close(got: Any, want: Any) -> bool:
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(
            _close(g, w) for g, w in zip(got, want))
    if isinstance(want, bool) or isinstance(got, bool) or not isinstance(want, float):
        return type(got) is type(want) and got == want
    if not isinstance(got, float):
        return False
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    return math.isclose(got, want, rel_tol=RTOL, abs_tol=ATOL)


def _first_far(got: list[Any], want: list[Any]) -> str:
    flat_got = torch.tensor(got, dtype=torch.float64).flatten().tolist()
    flat_want = torch.tensor(want, dtype=torch.float64).flatten().tolist()
    for i, (g, w) in enumerate(zip(flat_got, flat_want)):
        if not _close(float(g), float(w)):
            return f"element {i}: autoviz {g!r}, torch {w!r}"
    return "values differ"


def _diff_tensor(got: dict[str, Any], want: dict[str, Any], what: str) -> str | None:
    for key in ("dtype", "shape", "requires_grad", "is_leaf", "grad_fn"):
        if key in want and got.get(key) != want[key]:
            return f"{what}.{key}: autoviz {got.get(key)}, torch {want[key]}"
    if not _close(got["value"], want["value"]):
        try:
            where = _first_far(got["value"], want["value"])
        except (TypeError, ValueError):
            where = "values differ"
        return f"{what}: {where}"
    if "grad" in want:
        if (got.get("grad") is None) != (want["grad"] is None):
            return (f"{what}.grad: autoviz {'None' if got.get('grad') is None else 'a tensor'}"
                    f", torch {'None' if want['grad'] is None else 'a tensor'}")
        if want["grad"] is not None:
            return _diff_tensor(got["grad"], want["grad"], f"{what}.grad")
    return None


def diff_value(got: dict[str, Any] | None, want: dict[str, Any], what: str) -> str | None:
    """The first way ``got`` (autoviz) differs from ``want`` (torch), or None."""
    kind = want["kind"]
    if kind == "opaque":
        return None  # nothing torch-side to compare against
    if got is None:
        return f"{what}: missing from autoviz's namespace (torch has a {kind})"
    if got["kind"] != kind:
        if kind == "module" and got["kind"] == "opaque":
            return None  # autoviz keeps the module as an object we cannot read: not judged
        return f"{what}: autoviz has a {got['kind']} ({got.get('type')}), torch a {kind}"
    if kind == "tensor":
        return _diff_tensor(got, want, what)
    if kind == "py":
        if got["type"] != want["type"] or not _close(got["value"], want["value"]):
            return f"{what}: autoviz {got['value']!r}, torch {want['value']!r}"
        return None
    if kind == "node":
        return None if got["name"] == want["name"] else (
            f"{what}: autoviz node {got['name']}, torch {want['name']}")
    if kind == "set":
        return None if got["items"] == want["items"] else f"{what}: set items differ"
    if kind == "seq":
        if got["len"] != want["len"]:
            return f"{what}: length {got['len']} in autoviz, {want['len']} in torch"
        for i, (g, w) in enumerate(zip(got["items"] or [], want["items"] or [])):
            found = diff_value(g, w, f"{what}[{i}]")
            if found:
                return found
        return None
    if kind == "dict":
        if got["keys"] != want["keys"]:
            return f"{what}: keys {got['keys']} in autoviz, {want['keys']} in torch"
        for key, g, w in zip(want["keys"], got["items"], want["items"]):
            found = diff_value(g, w, f"{what}[{key}]")
            if found:
                return found
        return None
    if kind == "module":
        if got.get("training") != want["training"]:
            return f"{what}.training: autoviz {got.get('training')}, torch {want['training']}"
        for part in ("params", "buffers"):
            if list(got[part]) != list(want[part]):
                return (f"{what}.named_{part}(): autoviz {list(got[part])}, "
                        f"torch {list(want[part])}")
            for name, w in want[part].items():
                found = _diff_tensor(got[part][name], w, f"{what}.{name}")
                if found:
                    return found
        return None
    return None


def mask(text: str) -> str:
    return _ADDRESS.sub("0x?", text)


def _diff_output(got: str, want: str) -> str | None:
    got, want = mask(got), mask(want)
    if got == want:
        return None
    got_lines, want_lines = got.splitlines(), want.splitlines()
    for i, (g, w) in enumerate(zip(got_lines, want_lines), 1):
        if g != w:
            return f"printed line {i}: autoviz {g[:120]!r}, torch {w[:120]!r}"
    i = min(len(got_lines), len(want_lines))
    if len(got_lines) != len(want_lines):
        extra = (got_lines if len(got_lines) > len(want_lines) else want_lines)[i]
        return (f"printed {len(got_lines)} lines in autoviz, {len(want_lines)} in torch "
                f"(line {i + 1}: {extra[:120]!r})")
    return "printed text differs (line endings)"


def _diff_steps(got: list[str] | None, want: list[str] | None) -> str | None:
    if want is None:
        return None
    if got is None:
        return "autoviz recorded no backward; torch ran one"
    if got == want:
        return None
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return f"engine order of the last backward, step {i + 1}: autoviz {g}, torch {w}"
    return f"the last backward ran {len(got)} nodes in autoviz, {len(want)} in torch"


def compare(native_outcome: Outcome, ours_outcome: Outcome) -> str:
    """``same`` | ``refused: <message>`` | ``failed: <message>`` | ``differs: <what>``."""
    want, got = native_outcome, ours_outcome
    if got.refused:
        return f"refused: {got.error}"
    if want.error is not None:
        if got.error == want.error and got.error_line == want.error_line:
            return f"failed: {want.error}"
        if got.error is None:
            return f"differs: autoviz ran to the end; torch raised {want.error}"
        return (f"differs: autoviz raised {got.error} (line {got.error_line}); torch raised "
                f"{want.error} (line {want.error_line})")
    if got.error is not None:
        return f"differs: autoviz raised {got.error} (line {got.error_line}) where torch ran"
    found = _diff_output(got.output, want.output)
    if found is None:
        for name, value in want.variables.items():
            found = diff_value(got.variables.get(name), value, name)
            if found:
                break
    if found is None:
        found = _diff_steps(got.steps, want.steps)
    return "same" if found is None else f"differs: {found}"


def warnings_differ(native_outcome: Outcome, ours_outcome: Outcome) -> str | None:
    """How the warnings' first lines differ, or None (not part of the verdict: see above)."""
    def heads(outcome: Outcome) -> list[str]:
        return [w.splitlines()[0][:100] if w else "" for w in outcome.warnings]

    want, got = heads(native_outcome), heads(ours_outcome)
    return None if got == want else f"autoviz {got}, torch {want}"


def verdict_kind(verdict: str) -> str:
    return verdict.split(":", 1)[0]


# ---- the whole corpus ------------------------------------------------------------------
@dataclass
class Result:
    verdict: str
    native: Outcome
    ours: Outcome


def run_corpus(sources: dict[str, str] | None = None) -> dict[str, Result]:
    """Every snippet's result, by name: all natively in one subprocess, then ours."""
    sources = snippets() if sources is None else sources
    natives = native_many(sources)
    results = {}
    for name, source in sources.items():
        got = ours(source)
        results[name] = Result(compare(natives[name], got), natives[name], got)
    return results


def share_same(verdicts: dict[str, str]) -> float:
    return sum(v == "same" for v in verdicts.values()) / max(len(verdicts), 1)


def table(verdicts: dict[str, str]) -> str:
    """Category x verdict counts, with the share that runs exactly as in torch."""
    names = [*CATEGORIES, *sorted({category(n) for n in verdicts} - set(CATEGORIES))]
    rows = [("category", *VERDICTS, "total", "same %")]
    for cat in [*names, "all"]:
        kinds = [verdict_kind(v) for n, v in verdicts.items() if cat in ("all", category(n))]
        if not kinds:
            continue
        counts = [kinds.count(k) for k in VERDICTS]
        rows.append((cat, *map(str, counts), str(len(kinds)),
                     f"{100 * counts[0] / len(kinds):.0f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, lines[1])
    return "\n".join(lines)


def grouped(verdicts: dict[str, str], kind: str) -> list[tuple[str, list[str]]]:
    """The ``kind`` verdicts' messages, each with the snippets that got it, most first."""
    groups: dict[str, list[str]] = {}
    for name, verdict in verdicts.items():
        if verdict_kind(verdict) == kind:
            groups.setdefault(verdict.split(": ", 1)[1], []).append(name)
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
