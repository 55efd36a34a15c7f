"""Everything the page shows about one program, derived from its text and a few choices.

State is the input: (program text, root, gradient, retain_graph, extra actions) -> Study.
Stepping is a replay of ``study.trace``; it never re-runs the program or backward.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from autoviz.backward import BackwardTrace, Step, record_backward
from autoviz.errors import ProgramError
from autoviz.graph import Graph, extract_graph, preview, walk
from autoviz.program import Program, run_program

BACKWARD = "backward"
ZERO = "zero"


@dataclass(frozen=True)
class Pass:
    """One extra action after the recorded backward, and the leaves' grads after it."""

    action: str
    code: str
    grads: dict[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Study:
    """A program run, its graph, and torch's recorded backward through it."""

    source: str
    program: Program | None = None
    error: ProgramError | None = None
    root: str | None = None
    roots: tuple[str, ...] = ()
    graph: Graph | None = None
    trace: BackwardTrace | None = None
    backward_error: str | None = None
    passes: tuple[Pass, ...] = ()
    gradient_code: str | None = None
    nodes: dict[str, Any] = field(default_factory=dict, repr=False)  # id -> live node

    @property
    def ok(self) -> bool:
        return self.error is None


def root_candidates(program: Program) -> list[str]:
    """Tensors backward can start from, best first: the last scalar assigned leads."""
    names = []
    for name in reversed(program.assigned):
        value = program.namespace.get(name)
        if name in names or not isinstance(value, torch.Tensor):
            continue
        if value.grad_fn is not None or value.requires_grad:
            names.append(name)
    scalars = [n for n in names if program.namespace[n].numel() == 1]
    return scalars + [n for n in names if n not in scalars]


def parse_gradient(text: str) -> torch.Tensor:
    """The ``gradient=`` argument typed by the user, run through the same safe runner."""
    text = text.strip()
    if "\n" in text:
        raise ProgramError("the gradient must be one expression on one line")
    program = run_program(f"import torch\ngradient = {text}\n")
    value = program.namespace.get("gradient")
    if not isinstance(value, torch.Tensor):
        raise ProgramError("the gradient must be a tensor, e.g. torch.ones(2)")
    return value


def make_study(source: str, root: str | None = None, gradient: str | None = None,
               retain_graph: bool = True, actions: tuple[str, ...] = ()) -> Study:
    """Run ``source`` and record backward from ``root`` (default: the best candidate)."""
    study = Study(source)
    try:
        program = run_program(source)
    except ProgramError as exc:
        study.error = exc
        return study
    study.program = program
    study.roots = tuple(root_candidates(program))
    if program.traces and (root is None or root == program.traces[-1].root_name) \
            and not gradient:
        # the program called .backward() itself: step through what torch did then
        study.trace = program.traces[-1]
        study.root = study.trace.root_name
        study.graph = study.trace.graph
        tensor = program.namespace.get(study.root or "")
        _index_nodes(study, tensor)
        if isinstance(tensor, torch.Tensor):
            study.passes = tuple(_replay(study, tensor, None, retain_graph, actions))
        return study
    if root is not None and isinstance(program.namespace.get(root), torch.Tensor):
        study.root = root  # even without grad: backward then shows torch's own error
    else:
        study.root = study.roots[0] if study.roots else None
    if study.root is None:
        study.backward_error = ("no tensor here requires grad, so there is no autograd graph "
                                "(set requires_grad=True on a leaf)")
        return study
    tensor = program.namespace[study.root]
    study.graph = extract_graph(tensor, catalog=program.catalog, saved=True)
    _index_nodes(study, tensor)
    grad = None
    if gradient:
        try:
            grad = parse_gradient(gradient)
        except ProgramError as exc:
            study.backward_error = f"gradient: {exc}"
            return study
        study.gradient_code = gradient.strip()
    try:
        study.trace = record_backward(tensor, grad, retain_graph=retain_graph,
                                      catalog=program.catalog, root_name=study.root)
    except Exception as exc:  # torch's own error, shown as torch wrote it
        study.backward_error = f"{type(exc).__name__}: {exc}"
        return study
    study.passes = tuple(_replay(study, tensor, grad, retain_graph, actions))
    return study


def _index_nodes(study: Study, tensor: Any) -> None:
    if isinstance(tensor, torch.Tensor):
        found = walk([tensor], [study.root])
        study.nodes = {node_id: node for node, node_id in found.ids.items()}


def leaf_names(program: Program) -> list[str]:
    """Named leaf tensors that require grad."""
    return [name for name, value in program.tensors().items()
            if value.is_leaf and value.requires_grad]


def _replay(study: Study, root: torch.Tensor, grad: torch.Tensor | None, retain: bool,
            actions: tuple[str, ...]) -> list[Pass]:
    assert study.program is not None
    leaves = leaf_names(study.program)
    namespace = study.program.namespace
    passes = []
    gradient = f"{study.gradient_code}, " if study.gradient_code else ""
    for action in actions:
        error = None
        if action == BACKWARD:
            code = f"{study.root}.backward({gradient}retain_graph={retain})"
            try:
                root.backward(grad, retain_graph=retain)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
        else:
            code = "; ".join(f"{n}.grad.zero_()" for n in leaves) or "(no leaf grads)"
            for name in leaves:
                if namespace[name].grad is not None:
                    namespace[name].grad.zero_()
        grads = {n: preview(namespace[n].grad) for n in leaves}
        passes.append(Pass(action, code, grads, error))
        if error:
            break
    return passes


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
        return (f"grad {preview(received)}" if before is None
                else f"grad += {preview(received)}")
    return f"got {preview(received)}"


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


def tensor_literal(tensor: torch.Tensor | None) -> str:
    """Python text that rebuilds ``tensor`` (what a student would type)."""
    if tensor is None:
        return "None"
    dtype = "" if tensor.dtype == torch.float32 else f", dtype=torch.{str(tensor.dtype)[6:]}"
    if tensor.numel() > 16:
        if bool((tensor == 1).all()):
            return f"torch.ones({', '.join(map(str, tensor.shape))}{dtype})"
        return f"torch.randn({', '.join(map(str, tensor.shape))}{dtype})  # shape only"
    return f"torch.tensor({preview(tensor)}{dtype})"


@dataclass(frozen=True)
class ManualCall:
    """The ``grad_fn(...)`` call that does what one step did, and what it returns."""

    code: str
    result: str
    called: bool


def manual_call(study: Study, k: int) -> ManualCall | None:
    """Call step ``k``'s node by hand with what it received (AccumulateGrad is not called:
    it would add to ``.grad`` a second time)."""
    if study.trace is None or not 1 <= k <= len(study.trace.steps):
        return None
    step = study.trace.steps[k - 1]
    args = ", ".join(tensor_literal(g) for g in step.grad_outputs)
    depth = step.paths.depth(step.node_id)
    if depth > 12:  # a deep node: the full expression would be thousands of characters
        start = step.paths(step.node_id).split(".next_functions")[0]
        code = (f"node = {start}\nfor i in range({depth}):  # first inputs all the way down\n"
                f"    node = node.next_functions[0][0]\nnode({args})"
                if step.path.count("[0][0]") == depth
                else f"# {depth} .next_functions hops below {start}\nnode({args})")
    else:
        code = f"{step.path}({args})"
    node = study.nodes.get(step.node_id)
    if node is None or hasattr(node, "variable"):
        target = study.trace.graph.node(step.node_id).tensor
        name = target.name if target and target.name else "the leaf"
        return ManualCall(code, f"not called here: AccumulateGrad adds what it gets to "
                          f"{name}.grad, so calling it again would change the gradients",
                          False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = node(*step.grad_outputs)
    except Exception as exc:
        return ManualCall(code, f"{type(exc).__name__}: {exc}", True)
    return ManualCall(code, str(result), True)


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


def _leaf_grads(study: Study) -> dict[str, str]:
    if study.program is None:
        return {}
    return {name: preview(t.grad) for name, t in study.program.tensors().items()
            if t.is_leaf and (t.requires_grad or t.grad is not None)}


def compare(before: Study, after: Study) -> Comparison:
    """Compare the program without and with the toggles."""
    from collections import Counter

    old, new = Counter(_node_labels(before)), Counter(_node_labels(after))
    grads_before, grads_after = _leaf_grads(before), _leaf_grads(after)
    names = list(grads_before) + [n for n in grads_after if n not in grads_before]
    rows = tuple((n, grads_before.get(n, "None"), grads_after.get(n, "None")) for n in names)
    lost = tuple(n for n, b, a in rows if b != "None" and a == "None")

    def root_value(study: Study) -> str | None:
        if study.program is None or study.root is None:
            return None
        value = study.program.namespace.get(study.root)
        return preview(value) if isinstance(value, torch.Tensor) else None

    return Comparison(tuple((old - new).elements()), tuple((new - old).elements()), lost,
                      root_value(before), root_value(after), rows)
