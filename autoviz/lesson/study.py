"""Everything the page shows about one program: a frozen, picklable record.

State is the input: (program text, root, gradient, retain_graph, extra actions) -> Study,
made in a worker process by :func:`autoviz.lesson.lab.make_study`. A Study is plain data (no
tensor, no autograd node), so the Streamlit server holds it without importing torch.
Stepping is a replay of ``study.trace``; it never re-runs the program or backward.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from autoviz.data import BackwardTrace, Graph, Step, text
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
    """The ``grad_fn(...)`` call that does what one step did, and what it returns."""

    code: str
    result: str
    called: bool


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
    first_grads: dict[str, str] = field(default_factory=dict)  # leaves after the recorded one
    calls: tuple[ManualCall, ...] = ()  # the same step by hand, one per step
    tables: dict[str, Table] = field(default_factory=dict)
    program_file: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    def manual_call(self, k: int) -> ManualCall | None:
        """Step ``k``'s manual call (1-based, as the stepper counts)."""
        return self.calls[k - 1] if 1 <= k <= len(self.calls) else None


@dataclass(frozen=True)
class Frame:
    """How the graph looks at step k: node status and a note per node."""

    k: int
    status: dict[str, str]
    notes: dict[str, str]


def done_note(trace: BackwardTrace, step: Step) -> str:
    """A node's note once it ran: what it got (a leaf: what its .grad got)."""
    received = step.grad_outputs[0] if step.grad_outputs else None
    node = trace.graph.node(step.node_id)
    if node.kind == "leaf":
        before = node.tensor.grad if node.tensor else None
        return (f"grad {text(received)}" if before is None
                else f"grad += {text(received)}")
    return f"got {text(received)}"


def frame(trace: BackwardTrace, k: int) -> Frame:
    """Step ``k`` of the replay: 0 is before backward, ``len(steps)`` is the end."""
    k = max(0, min(k, len(trace.steps)))
    status: dict[str, str] = {}
    notes: dict[str, str] = {}
    arrived: dict[str, int] = {}
    for step in trace.steps[:k]:
        status[step.node_id] = "done"
        notes[step.node_id] = done_note(trace, step)
        for dst, grad in zip(step.next_ids, step.grad_inputs):
            if grad is not None:
                arrived[dst] = arrived.get(dst, 0) + 1
    if k:
        status[trace.steps[k - 1].node_id] = "current"
    elif trace.graph.roots:
        status[trace.graph.roots[0]] = "pending"
    consumers: dict[str, int] = {}
    for edge in trace.graph.edges:
        consumers[edge.dst] = consumers.get(edge.dst, 0) + 1
    for node_id, count in arrived.items():
        if node_id not in status and trace.graph.node(node_id).kind != "none":
            status[node_id] = "pending"
            total = consumers.get(node_id, count)
            notes[node_id] = (f"waiting: {count} of {total} in" if total > 1
                              else "next")
    return Frame(k, status, notes)


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


def compare(before: Study, after: Study) -> Comparison:
    """Compare the program without and with the toggles."""
    old, new = Counter(_node_labels(before)), Counter(_node_labels(after))
    grads_before, grads_after = before.grads, after.grads
    names = list(grads_before) + [n for n in grads_after if n not in grads_before]
    rows = tuple((n, grads_before.get(n, "None"), grads_after.get(n, "None")) for n in names)
    lost = tuple(n for n, b, a in rows if b != "None" and a == "None")
    return Comparison(tuple((old - new).elements()), tuple((new - old).elements()), lost,
                      before.root_value, after.root_value, rows)
