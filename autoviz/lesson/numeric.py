"""A finite-difference check per leaf: the numerical gradient beside autograd's.

The program is run again through the same safe runner, under the same caps, with
``torch.set_default_dtype(torch.float64)`` in force: once to take autograd's gradient
(the root and ``gradient=`` chosen as :func:`autoviz.lesson.lab.make_study` chooses them),
once more to see that a run is the same as the last, then twice per checked element, with
that element of that leaf nudged by ``+ε`` and ``-ε`` right where the leaf is made (the
runner's :class:`~autoviz.runner.interp.Rerun` hook). The numerical derivative is
``(f(x+ε) - f(x-ε)) / 2ε`` of ``f = sum(gradient * root)`` (the root itself when it is a
scalar). Every run draws the same random numbers (the runner seeds the program's generator
with one seed for all of them); the page's own run is never touched.

The work is capped before it is spent: at most :data:`MAX_ELEMENTS` nudged elements in
all (shared fairly among the leaves), each run under the runner's caps, and no more runs
than fit in half the worker's wall clock: no check starts when three runs would not fit,
and the elements are nudged round the leaves, one of each at a time, each pair of runs
only when the last pair's time says it fits.

What :func:`finite_differences` returns is plain data (no tensor), so it crosses to the
page as a Study does; this module imports torch only when a check runs.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from autoviz.runner.limits import Limits

MAX_ELEMENTS = 64  # nudged elements in all, over every leaf (two runs each)
SEED = 0  # the program's random generator in every run of a check
# ε by the precision on the way from a leaf to the root (the lower of the two dtypes), and
# the tolerance (atol, rtol) a numerical gradient taken with it is held to
EPSILON = {"float64": 1e-6, "float32": 1e-3, "float16": 1e-2, "bfloat16": 1e-2}
TOLERANCE = {"float64": (1e-5, 1e-3), "float32": (1e-2, 1e-2), "float16": (1e-1, 1e-1),
             "bfloat16": (1e-1, 1e-1)}
# the worst rounding of f at that precision, over the step, may loosen atol: ε·2 apart, a
# difference of f rounded to ``eps·|f|`` (a few times) is that over 2ε
ROUNDING = 8


@dataclass(frozen=True)
class LeafCheck:
    """One leaf: autograd's gradient and the numerical one, for its first ``checked``
    elements (flattened in row-major order, as ``.reshape(-1)`` reads them).

    ``autograd``/``numeric``: those elements' values; ``grad_none``: autograd gave the
    leaf no gradient (None; compared as zeros). ``max_rel_error``: the largest error over
    the largest magnitude of either gradient (0 when both are 0). ``ok``: every element
    within ``atol + rtol·|autograd|`` (torch.allclose's rule; gradcheck's for float64).
    ``note``: what the reader must know (fewer elements checked, a lower precision, why
    it was not checked at all)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    numel: int
    checked: int
    eps: float
    autograd: tuple[float, ...] = ()
    numeric: tuple[float, ...] = ()
    grad_none: bool = False
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    atol: float = 0.0
    rtol: float = 0.0
    ok: bool = False
    note: str = ""


@dataclass(frozen=True)
class NumericCheck:
    """A finite-difference check of one program, root and gradient, as plain data.

    ``objective``: what was differentiated numerically, as Python (``O``, or
    ``(torch.ones(2) * y).sum()``); ``error``: why no leaf could be checked (the page
    shows it alone); ``notes``: what holds for the whole check (every run in float64, one
    random draw, the caps); ``runs``/``seconds``: the program's runs it took, and how
    long."""

    source: str
    root: str | None = None
    gradient: str | None = None
    objective: str = ""
    leaves: tuple[LeafCheck, ...] = ()
    notes: tuple[str, ...] = ()
    error: str = ""
    runs: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Checked, and every leaf checked agrees."""
        return not self.error and any(leaf.checked for leaf in self.leaves) and all(
            leaf.ok for leaf in self.leaves if leaf.checked)


class _Disagree(Exception):
    """A run of the check did not go as the first one did."""


@dataclass
class _Made:
    """A leaf as the first run made it (the tensor, its line, its value then)."""

    tensor: Any
    lineno: int | None
    version: int
    value: Any


class _Leaves:
    """The runner's ``on_leaf`` hook: counts the leaves a run makes, keeps their shapes
    and dtypes (to see that a rerun makes the same ones), and nudges one element of one
    of them, into a storage of its own (a tensor sharing the old one keeps its values)."""

    def __init__(self, nudge: tuple[int, int, float] | None = None, keep: bool = False
                 ) -> None:
        self.nudge = nudge  # (leaf index, element, step)
        self.keep = keep  # the first run: keep the tensors and their values
        self.made: list[_Made] = []
        self.kinds: list[tuple[tuple[int, ...], str]] = []
        self.moved: tuple[float, float] | None = None  # the element before, after

    def __call__(self, tensor: Any, lineno: int | None) -> None:
        import torch

        from autoviz.autograd.catalog import version

        index = len(self.kinds)
        self.kinds.append((tuple(tensor.shape), _dtype(tensor.dtype)))
        if self.keep:
            self.made.append(_Made(tensor, lineno, version(tensor), tensor.detach().clone()))
        if self.nudge is None or self.nudge[0] != index:
            return
        _, element, step = self.nudge
        where = _unravel(element, tuple(tensor.shape))
        with torch.no_grad():
            value = tensor.detach().clone()
            before = float(value[where])
            value[where] += step
            self.moved = (before, float(value[where]))
            tensor.data = value


def _unravel(index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    where = []
    for size in reversed(shape):
        index, at = divmod(index, size)
        where.append(at)
    return tuple(reversed(where))


def _dtype(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


@contextlib.contextmanager
def _float64() -> Iterator[None]:
    """torch's default dtype float64 while the check runs (process-wide: the check runs
    in a worker of its own, or in a notebook's one thread)."""
    import torch

    was = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(was)


def _at(exc: Any) -> str:
    return f" on line {exc.lineno}" if getattr(exc, "lineno", None) else ""


def _objective(program: Any, root: str, gradient: Any) -> float:
    """``sum(gradient * root)`` (``root`` when no gradient), in float64."""
    import torch

    tensor = program.namespace.get(root)
    if not isinstance(tensor, torch.Tensor):
        raise _Disagree(f"{root} is not a tensor at the end of this run")
    value = tensor.detach().to(torch.float64)
    if gradient is not None:
        value = value * gradient.detach().to(torch.float64)
    return float(value.sum())


@dataclass
class _Base:
    """The first run: the program, its root and gradient, autograd's gradient per leaf."""

    program: Any
    root: str
    gradient: Any  # a tensor, or None
    gradient_code: str | None
    leaves: list[tuple[int, _Made, Any]]  # (index among the leaves made, leaf, its grad)
    kinds: list[tuple[tuple[int, ...], str]]  # every leaf the run made: shape, dtype
    value: float
    unseeded: bool
    notes: list[str]


def _first_run(source: str, root: str | None, gradient: str | None, limits: Limits,
               where: Any) -> _Base | str:
    """Run the program once, pick the root as the page does, take autograd's gradient of
    every leaf that requires grad; or say why there is nothing to check."""
    import torch

    from autoviz.lesson.lab import gradient_expression, parse_gradient, root_candidates
    from autoviz.runner.errors import ProgramError
    from autoviz.runner.interp import Rerun
    from autoviz.runner.program import run_program

    hook = _Leaves(keep=True)
    rerun = Rerun(SEED, hook)
    try:
        program = run_program(source, limits, where=where, rerun=rerun)
    except ProgramError as exc:
        return f"run in float64, the program fails{_at(exc)}: {exc.message}"
    namespace = program.namespace
    if root is not None and not isinstance(namespace.get(root), torch.Tensor):
        root = None  # a choice kept from another program, as make_study takes it
    trace = program.traces[-1] if program.traces else None
    own = trace is not None and (root is None or root == trace.root_name)
    if own:
        root = trace.root_name
    elif root is None:
        candidates = root_candidates(program)
        root = candidates[0] if candidates else None
    tensor = namespace.get(root or "")
    if root is None or not isinstance(tensor, torch.Tensor):
        return ("no tensor here requires grad, so there is no gradient to check (set "
                "requires_grad=True on a leaf)")
    if tensor.is_complex():
        return f"{root} is complex: the check takes a real root"
    made = [m for m in hook.made if m.tensor.is_leaf and m.tensor.requires_grad]
    notes = []
    complex_leaves = [m for m in made if m.tensor.is_complex()]
    if complex_leaves:
        notes.append(f"{len(complex_leaves):,} complex "
                     f"{'leaf is' if len(complex_leaves) == 1 else 'leaves are'} not checked "
                     "(the check nudges real numbers)")
    made = [m for m in made if not m.tensor.is_complex()]
    if not made:
        return f"no real leaf that requires grad leads to {root}: nothing to check"
    index = {id(m.tensor): i for i, m in enumerate(hook.made)}
    code = None
    if own:
        assert trace is not None
        if not _traced(trace, tensor):
            return (f"{root} was given another tensor after its backward(): the check cannot "
                    f"nudge the {root} that backward() differentiated")
        grad = trace.gradient
        got = {}
        for step in trace.steps:  # what each leaf's AccumulateGrad received
            variable = getattr(trace.nodes.get(step.node_id), "variable", None)
            if variable is not None and step.grad_outputs:
                got[id(variable)] = step.grad_outputs[0]
        grads = [got.get(id(m.tensor)) for m in made]
        if trace.gradient is not None:
            notes.append("the gradient is the one the program's own backward() was given")
    else:
        grad = None
        if gradient and tensor.numel() != 1:
            try:
                grad = parse_gradient(gradient)
                code = gradient_expression(gradient)
            except ProgramError as exc:
                return f"gradient: {exc}"
        try:
            grads = list(torch.autograd.grad(tensor, [m.tensor for m in made], grad,
                                             allow_unused=True))
        except Exception as exc:  # torch's own error, as the page shows it
            return f"backward() fails: {type(exc).__name__}: {exc}"
    value = _objective(program, root, grad)
    leaves = [(index[id(m.tensor)], m, g) for m, g in zip(made, grads)]
    return _Base(program, root, grad, code, leaves, hook.kinds, value, rerun.unseeded, notes)


def _traced(trace: Any, tensor: Any) -> bool:
    """``tensor`` is the root the program's own backward() started from (not another
    tensor bound to its name since)."""
    node = trace.nodes.get(trace.graph.roots[0]) if trace.graph.roots else None
    if node is None:
        return True  # nothing to tell them apart by
    return node is tensor.grad_fn or getattr(node, "variable", None) is tensor


def _changed(made: _Made) -> bool:
    """The leaf's values changed after it was made (in place under no_grad, or through
    ``.data``): a nudge where it is made is not a nudge of what autograd differentiated."""
    import torch

    from autoviz.autograd.catalog import version

    now = made.tensor.detach()
    if version(made.tensor) != made.version:
        return True
    same = (now == made.value) | (torch.isnan(now) & torch.isnan(made.value))
    return not bool(same.all())


def _share(wanted: list[int], total: int) -> list[int]:
    """``total`` elements among leaves wanting ``wanted`` each: the smallest first get
    all they want, up to an equal share of what is left (rounded up: of equal leaves,
    the first made get the one more, and with fewer elements than leaves, one each)."""
    given = [0] * len(wanted)
    left = total
    order = sorted(range(len(wanted)), key=lambda i: (wanted[i], i))
    for rank, i in enumerate(order):
        given[i] = min(wanted[i], -(-left // (len(order) - rank)))
        left -= given[i]
    return given


def _precision(*dtypes: str) -> str:
    """The lowest of the floating dtypes (float64 when all are)."""
    order = ["float16", "bfloat16", "float32", "float64"]
    known = [d for d in dtypes if d in order]
    return min(known, key=order.index) if known else "float64"


def _format_eps(eps: float) -> str:
    return f"{eps:.0e}".replace("e-0", "e-")


def finite_differences(source: str, root: str | None = None, gradient: str | None = None,
                       limits: Limits | None = None, where: Any = None,
                       max_elements: int = MAX_ELEMENTS) -> NumericCheck:
    """Check autograd's gradient of every leaf that requires grad against central
    differences in float64 (see the module's doc). ``root``/``gradient`` as for
    :func:`autoviz.lesson.lab.make_study`; ``limits``: the runner's caps for each run,
    and the worker's wall clock (half of it is the check's); ``where``: see
    :func:`autoviz.runner.program.run_program`; ``max_elements``: nudged elements in all."""
    from autoviz.runner.limits import Limits

    limits = limits or Limits()
    start = time.monotonic()
    with _float64():
        try:
            return _check(source, root, gradient, limits, where, max_elements, start)
        finally:
            if where is not None:
                where.value = 0


def _check(source: str, root: str | None, gradient: str | None, limits: Limits, where: Any,
           max_elements: int, start: float) -> NumericCheck:
    from autoviz.runner.errors import ProgramError
    from autoviz.runner.interp import Rerun
    from autoviz.runner.program import run_program

    seconds = limits.job_seconds / 2
    base = _first_run(source, root, gradient, limits, where)
    runs = 1
    if isinstance(base, str):
        return NumericCheck(source, root, gradient or None, error=base, runs=runs,
                            seconds=time.monotonic() - start)
    root, gradient = base.root, base.gradient_code
    notes = ["every run of the check is in float64 (torch.set_default_dtype(torch.float64)):"
             " its values may differ from the page's float32 ones in their last digits"]
    if base.unseeded:
        notes.append(f"the program draws random numbers without torch.manual_seed: the page "
                     f"shows one draw, the check another (all its runs use seed {SEED})")
    notes += base.notes
    if base.gradient is None:
        objective = root
    elif gradient:
        objective = f"({gradient} * {root}).sum()"
    else:
        objective = f"(gradient * {root}).sum()"

    def done(leaves: list[LeafCheck], error: str = "") -> NumericCheck:
        return NumericCheck(source, root, gradient, objective, tuple(leaves), tuple(notes),
                            error, runs, time.monotonic() - start)

    first = time.monotonic() - start
    if 3 * first > seconds:
        return done([], f"one run of the program takes {first:.2g} s: the check needs at "
                        f"least three runs in its {seconds:g} s")
    # the same again, not nudged: a rerun must make the same leaves and the same root
    again = _Leaves()
    began = time.monotonic()
    runs += 1
    try:
        value = _objective(run_program(source, limits, where=where, rerun=Rerun(SEED, again)),
                           root, base.gradient)
    except (ProgramError, _Disagree) as exc:
        message = exc.message if isinstance(exc, ProgramError) else str(exc)
        return done([], f"run again, the program fails{_at(exc)}: {message}")
    pace = time.monotonic() - began
    if again.kinds != base.kinds or not _same(value, base.value):
        return done([], "the program is not deterministic: run twice with the same seed it "
                        f"gave {root} = {base.value!r}, then {value!r}"
                        + ("" if again.kinds == base.kinds else ", and made other leaves")
                        + ", so finite differences would be noise")
    # at most max_elements in all, shared among the leaves; nudged round the leaves, one
    # element of each at a time, so that should the check's time run out (each pair's
    # time foretold by the last one's) every leaf has had its turns
    checkable = [(i, m) for i, m, _ in base.leaves if not _changed(m)]
    wanted = [m.tensor.numel() for _, m in checkable]
    total = min(max_elements, sum(wanted))
    given = dict(zip((i for i, _ in checkable), _share(wanted, total)))
    if sum(wanted) > max_elements:
        notes.append(f"at most {max_elements:,} elements are nudged in all (two runs each), "
                     f"shared among the leaves: {total:,} of {sum(wanted):,}")
    nudges = [_Nudges(base, name, index, made, grad, given.get(index, 0), source, limits,
                      where) for name, (index, made, grad) in zip(_names(base), base.leaves)]
    deadline = start + seconds
    late = False
    for element in range(max(given.values(), default=0)):
        for leaf in nudges:
            if leaf.stop or element >= leaf.take:
                continue
            if time.monotonic() + 2 * pace > deadline:
                late = True
                break
            began = time.monotonic()
            spent = leaf.nudge(element)
            runs += spent
            pace = (time.monotonic() - began) / spent
        if late:
            break
    if late:
        done_so_far = sum(len(leaf.numeric) for leaf in nudges)
        notes.append(f"the check's {seconds:g} s ran out after {done_so_far:,} of {total:,} "
                     f"elements (one run takes {pace:.2g} s)")
    return done([leaf.result(late) for leaf in nudges])


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _names(base: _Base) -> list[str]:
    """Each leaf's name in the program; one it never named is called after its line
    (``(line 7, leaf 3)`` when a loop made several there)."""
    lines: dict[int | None, int] = {}
    for _, made, _ in base.leaves:
        lines[made.lineno] = lines.get(made.lineno, 0) + 1
    names, seen = [], dict.fromkeys(lines, 0)
    for _, made, _ in base.leaves:
        seen[made.lineno] += 1
        name = base.program.name_of(made.tensor)
        if name is None:
            where = f"line {made.lineno}" if made.lineno else "a leaf"
            name = f"({where}, leaf {seen[made.lineno]})" if lines[made.lineno] > 1 \
                else f"(the leaf made on {where})"
        names.append(name)
    return names


class _Nudges:
    """One leaf's share of the check: its first ``take`` elements, each nudged by +ε and
    -ε in a run of its own (:meth:`nudge`), then what that says (:meth:`result`)."""

    def __init__(self, base: _Base, name: str, index: int, made: _Made, grad: Any,
                 take: int, source: str, limits: Limits, where: Any) -> None:
        import torch

        self.base, self.name, self.index, self.made = base, name, index, made
        self.source, self.limits, self.where = source, limits, where
        tensor = made.tensor
        self.dtype = _dtype(tensor.dtype)
        root_dtype = _dtype(base.program.namespace[base.root].dtype)
        precision = _precision(self.dtype, root_dtype)
        self.eps = EPSILON[precision]
        atol, self.rtol = TOLERANCE[precision]
        # f rounded at that precision, over the step, may be off by more than atol
        self.atol = max(atol, ROUNDING * float(torch.finfo(getattr(torch, precision)).eps)
                        * abs(base.value) / self.eps)
        self.grad_none = grad is None
        self.notes: list[str] = []
        if precision != "float64":
            which = f"{name} is {self.dtype}" if self.dtype == precision else \
                f"the root {base.root} is {root_dtype}"
            self.notes.append(f"{which} (an explicit dtype), so ε is "
                              f"{_format_eps(self.eps)} and the tolerance {self.atol:.1g} + "
                              f"{_format_eps(self.rtol)}·|autograd|")
        self.stop = ""
        self.take = take
        if _changed(made):
            line = f" (it was made on line {made.lineno})" if made.lineno else ""
            self.take = 0
            self.stop = (f"its values changed after it was made{line}, in place under "
                         "torch.no_grad() or through .data, so a nudge where it is made is "
                         "not a nudge of what autograd differentiated")
        elif grad is None:
            self.notes.append("autograd gave it no gradient (None): compared as zeros")
        self.autograd = [0.0] * self.take if grad is None else \
            grad.detach().to(torch.float64).reshape(-1)[:self.take].tolist()
        self.numeric: list[float] = []

    def nudge(self, element: int) -> int:
        """The numerical derivative at ``element`` (or why there is none, in ``stop``);
        the runs it took."""
        from autoviz.runner.errors import ProgramError
        from autoviz.runner.interp import Rerun
        from autoviz.runner.program import run_program

        base, eps = self.base, self.eps
        ends, runs = [], 0
        for sign in (1, -1):
            hook = _Leaves((self.index, element, sign * eps))
            nudged = f"with element {element} nudged by {'+' if sign > 0 else '-'}" \
                f"{_format_eps(eps)}"
            runs += 1
            try:
                program = run_program(self.source, self.limits, where=self.where,
                                      rerun=Rerun(SEED, hook))
                value = _objective(program, base.root, base.gradient)
            except (ProgramError, _Disagree) as exc:
                message = exc.message if isinstance(exc, ProgramError) else str(exc)
                self.stop = f"{nudged}, the program fails{_at(exc)}: {message}"
                return runs
            if hook.kinds != base.kinds or hook.moved is None:
                self.stop = (f"{nudged}, the program makes other leaves: what it does "
                             "depends on this value, so finite differences cannot be taken "
                             "here")
                return runs
            ends.append((value, hook.moved[1]))
        (up, x_up), (down, x_down) = ends
        if x_up == x_down:
            self.stop = (f"ε is below the spacing of {self.dtype} numbers near element "
                         f"{element} ({x_up!r})")
        else:
            self.numeric.append((up - down) / (x_up - x_down))
        return runs

    def result(self, late: bool) -> LeafCheck:
        numeric = self.numeric
        checked = len(numeric)
        autograd = self.autograd[:checked]
        numel = self.made.tensor.numel()
        notes = list(self.notes)
        if self.stop:
            notes.append(f"{checked:,} of {numel:,} elements checked, then {self.stop}"
                         if checked else f"not checked: {self.stop}")
        elif checked < numel:
            why = " (the check's time ran out)" if late and checked < self.take else ""
            notes.append(f"{checked:,} of {numel:,} elements checked{why}" if checked else
                         "not checked: the check's time ran out" if late else
                         "not checked: the check's cap on nudged elements went to the other "
                         "leaves")
        errors = [abs(n - a) for n, a in zip(numeric, autograd)]
        finite = all(math.isfinite(e) for e in errors)
        largest = max(errors, default=0.0) if finite else math.nan
        scale = max((abs(v) for v in (*autograd, *numeric)), default=0.0)
        relative = (largest / scale if scale else 0.0) if finite else math.nan
        ok = checked > 0 and finite and all(e <= self.atol + self.rtol * abs(a)
                                            for e, a in zip(errors, autograd))
        if self.grad_none and checked and any(n != 0 for n in numeric):
            notes.append("yet the root changes with it: its way to the root was cut "
                         "(.detach() or torch.no_grad()), and autograd follows only the "
                         "recorded graph")
        tensor = self.made.tensor
        return LeafCheck(self.name, tuple(tensor.shape), self.dtype, numel, checked, self.eps,
                         tuple(autograd), tuple(numeric), self.grad_none, largest, relative,
                         self.atol, self.rtol, ok, "; ".join(notes))
