"""Everything the page shows about one program: a frozen, picklable record.

State is the input: (program text, root, gradient, retain_graph, extra actions) -> Study,
made in a worker process by :func:`autoviz.lesson.lab.make_study`. A Study is plain data (no
tensor, no autograd node), so the Streamlit server holds it without importing torch.
Stepping is a replay of ``study.trace``; it never re-runs the program or backward.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from autoviz.data import BackwardTrace, Graph
from autoviz.runner.errors import ProgramError

BACKWARD = "backward"
ZERO = "zero"


@dataclass(frozen=True)
class Pass:
    """One extra action after the recorded backward, and the leaves' grads after it."""

    action: str
    code: str
    grads: dict[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class ManualCall:
    """The ``grad_fn(...)`` call that does what one step did, and what it returns.

    ``code`` is Python that runs after the program (with the node's saved tensors still
    there): ``reach`` (statements setting ``node``, or empty when no variable of the
    program reaches it), then ``node(args)``, then, per output slot, what the engine did
    to that gradient before passing it on (``adjust``: ``.sum_to_size(3)`` where it summed
    a broadcast gradient down to its input's shape; ``"None"`` where it passed on None, as
    for an input ``backward(inputs=...)`` leaves out). ``result`` is what the call returned
    while the step ran; ``slot_notes`` says, per slot, what the engine changed (""
    where nothing); ``note`` anything else the reader must know to run it (freed saved
    tensors, a gradient too big to write out)."""

    code: str
    result: str
    called: bool
    reach: str = ""
    args: str = ""
    adjust: tuple[str, ...] = ()
    slot_notes: tuple[str, ...] = ()
    note: str = ""
    exact: bool = False  # ``code`` rebuilds exactly what the node received


@dataclass(frozen=True)
class Table:
    """A table's columns and rows (plain values; the page makes a DataFrame of it)."""

    columns: tuple[str, ...]
    rows: tuple[tuple, ...]


@dataclass(frozen=True)
class Study:
    """A program run, its graph, torch's recorded backward, and what the page derives from
    the live tensors (computed where they lived): previews, tables, the manual calls."""

    source: str
    error: ProgramError | None = None
    ran: bool = False  # the program ran to its end (error is None)
    output: str = ""
    warnings: tuple[tuple[int, str], ...] = ()
    root: str | None = None
    roots: tuple[str, ...] = ()
    root_shape: tuple[int, ...] | None = None
    root_value: str | None = None
    graph: Graph | None = None
    trace: BackwardTrace | None = None  # its gradients are Values
    backward_error: str | None = None
    passes: tuple[Pass, ...] = ()
    gradient_code: str | None = None
    intermediates: tuple[str, ...] = ()  # named tensors with a grad_fn
    leaves: tuple[str, ...] = ()  # named leaves that require grad
    grads: dict[str, str] = field(default_factory=dict)  # named leaves' .grad, as shown
    # named intermediates that retain_grad(), and their .grad after the recorded backward
    retained: dict[str, str] = field(default_factory=dict)
    first_grads: dict[str, str] = field(default_factory=dict)  # leaves after the recorded one
    # after the backward: each leaf that requires grad (or did) and got no .grad, and why
    no_gradient: tuple[tuple[str, str], ...] = ()
    root_note: str = ""  # why the root has no graph, where the program says so
    # gradients autograd.grad(create_graph=True) gave without a graph, and why: (name, why)
    gradient_notes: tuple[tuple[str, str], ...] = ()
    # the program's own backward calls: how many, the one stepped through (1…; 0: none),
    # the root's value at each (None: not one number), per call the leaves' values/grads
    backward_calls: int = 0
    which: int = 0
    losses: tuple[float | None, ...] = ()
    history: Table | None = None
    calls: tuple[ManualCall, ...] = ()  # the same step by hand, one per step
    rules: tuple[tuple[str, ...], ...] = ()  # the local rule with numbers, one per step
    tables: dict[str, Table] = field(default_factory=dict)
    program_file: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    def manual_call(self, k: int) -> ManualCall | None:
        """Step ``k``'s manual call (1-based, as the stepper counts)."""
        return self.calls[k - 1] if 1 <= k <= len(self.calls) else None

    def local_rule(self, k: int) -> tuple[str, ...]:
        """Step ``k``'s local rule, a line per input (empty for a leaf, or past the steps
        whose saved tensors were read)."""
        return self.rules[k - 1] if 1 <= k <= len(self.rules) else ()


@dataclass(frozen=True)
class Comparison:
    """What a toggle changed: nodes gone or new, leaves that lost their grad, values."""

    vanished: tuple[str, ...]
    appeared: tuple[str, ...]
    lost_grad: tuple[str, ...]
    root_before: str | None
    root_after: str | None
    grads: tuple[tuple[str, str, str], ...]  # (leaf, before, after)


def _node_labels(study: Study) -> list[str]:
    if study.graph is None:
        return []
    labels = []
    for node in study.graph.nodes:
        if node.kind == "none":
            continue
        name = node.tensor.name if node.tensor and node.tensor.name else None
        labels.append(f"{node.name} ({name})" if name else node.name)
    return labels


def _retained(study: Study, other: Study) -> dict[str, str]:
    """``study``'s retained intermediates' grads, labelled, for those either side keeps
    (a side that does not says None)."""
    names = list(study.retained) + [n for n in other.retained if n not in study.retained]
    return {f"{n} (retain_grad)": study.retained.get(n, "None") for n in names}


def compare(before: Study, after: Study) -> Comparison:
    """Compare the program without and with the toggles."""
    old, new = Counter(_node_labels(before)), Counter(_node_labels(after))
    # leaves, then intermediates that retain_grad() (on either side)
    grads_before = {**before.grads, **_retained(before, after)}
    grads_after = {**after.grads, **_retained(after, before)}
    names = list(grads_before) + [n for n in grads_after if n not in grads_before]
    rows = tuple((n, grads_before.get(n, "None"), grads_after.get(n, "None")) for n in names)
    lost = tuple(n for n, b, a in rows if b != "None" and a == "None")
    return Comparison(tuple((old - new).elements()), tuple((new - old).elements()), lost,
                      before.root_value, after.root_value, rows)
