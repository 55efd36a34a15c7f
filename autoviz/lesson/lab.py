"""Program + choices -> a :class:`~autoviz.lesson.study.Study`: run it, record backward, and read
off the live tensors everything the page will show. Runs where torch is (a worker
process, or a notebook); what it returns holds no tensor and no autograd node.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from autoviz.autograd.backward import record_backward
from autoviz.autograd.graph import Graph, extract_graph, preview, walk
from autoviz.data import BackwardTrace, Contribution, Value
from autoviz.drawing.export import program_file
from autoviz.lesson.study import BACKWARD, ManualCall, Pass, Study
from autoviz.lesson.tables import leaf_grads_table, nodes_table, steps_table, tensors_table
from autoviz.runner.errors import ProgramError
from autoviz.runner.limits import Limits
from autoviz.runner.program import Program, run_program

# Steps whose manual call is run (and its result shown); past it the call is shown unrun:
# torch's repr of each result costs ~0.6 ms: a 5,000-step chain would spend 3 s on them.
CALLED_STEPS = 2_000
SHOWN_WARNINGS = 20


@dataclass
class Live:
    """The run as torch left it (tensors, nodes): lives in the process that ran it."""

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


def gradient_expression(text: str) -> str:
    """The ``gradient=`` text as exactly one Python expression, written back from its
    parse (so ``\r``, ``;`` or a second line can never start another statement); what
    the runner runs and what the exported program says. Raises ProgramError."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ProgramError("the gradient must be one expression, e.g. torch.ones(2)") from None
    return ast.unparse(tree.body)


def parse_gradient(text: str) -> torch.Tensor:
    """The ``gradient=`` argument typed by the user, run through the same safe runner."""
    program = run_program(f"import torch\ngradient = {gradient_expression(text)}\n")
    value = program.namespace.get("gradient")
    if not isinstance(value, torch.Tensor):
        raise ProgramError("the gradient must be a tensor, e.g. torch.ones(2)")
    return value


def make_study(source: str, root: str | None = None, gradient: str | None = None,
               retain_graph: bool = True, actions: tuple[str, ...] = (),
               where: Any = None, limits: Limits | None = None) -> Study:
    """Run ``source``, record backward from ``root`` (default: the best candidate), and
    return what the page shows, as plain data. ``where``: see :func:`run_program` (0 once
    the program has run); ``limits``: the runner's caps (its defaults if None)."""
    return freeze(run_study(source, root, gradient, retain_graph, actions, where, limits))


def run_study(source: str, root: str | None = None, gradient: str | None = None,
              retain_graph: bool = True, actions: tuple[str, ...] = (),
              where: Any = None, limits: Limits | None = None) -> Live:
    """:func:`make_study`'s live half: the program run and its backward recorded."""
    study = Live(source)
    try:
        program = run_program(source, limits, where=where)
    except ProgramError as exc:
        study.error = exc
        return study
    finally:
        if where is not None:
            where.value = 0  # past the program: recording backward, reading it off
    study.program = program
    study.roots = tuple(root_candidates(program))
    if root is not None and not isinstance(program.namespace.get(root), torch.Tensor):
        root = None  # a choice kept from another program: this program's own choice wins
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
        study.gradient_code = gradient_expression(gradient)
    try:
        study.trace = record_backward(tensor, grad, retain_graph=retain_graph,
                                      catalog=program.catalog, root_name=study.root)
    except Exception as exc:  # torch's own error, shown as torch wrote it
        study.backward_error = f"{type(exc).__name__}: {exc}"
        return study
    study.passes = tuple(_replay(study, tensor, grad, retain_graph, actions))
    return study


def _index_nodes(study: Live, tensor: Any) -> None:
    if isinstance(tensor, torch.Tensor):
        found = walk([tensor], [study.root])
        study.nodes = {node_id: node for node, node_id in found.ids.items()}


def leaf_names(program: Program) -> list[str]:
    """Named leaf tensors that require grad."""
    return [name for name, value in program.tensors().items()
            if value.is_leaf and value.requires_grad]


def _replay(study: Live, root: torch.Tensor, grad: torch.Tensor | None, retain: bool,
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


def path_facts(graph: Graph) -> dict[str, tuple[int, bool, str]]:
    """Each node's hops below its root, whether every hop takes slot 0, and the root's own
    expression: in one pass in walk order (parents first), not one walk back per node."""
    links = graph.nodes[0].paths if graph.nodes else None
    facts: dict[str, tuple[int, bool, str]] = {}
    for node in graph.nodes:
        assert links is not None
        if node.id in links.roots:
            facts[node.id] = (0, True, links.roots[node.id])
        elif node.id in links.parents and links.parents[node.id][0] in facts:
            parent, slot = links.parents[node.id]
            depth, zeros, root = facts[parent]
            facts[node.id] = (depth + 1, zeros and slot == 0, root)
    return facts


def manual_call(study: Live, k: int, run: bool = True,
                facts: dict[str, tuple[int, bool, str]] | None = None) -> ManualCall | None:
    """Call step ``k``'s node by hand with what it received (AccumulateGrad is not called:
    it would add to ``.grad`` a second time; ``run=False``: the call is only written).
    ``facts``: :func:`path_facts` of the trace's graph, when many calls are written."""
    if study.trace is None or not 1 <= k <= len(study.trace.steps):
        return None
    step = study.trace.steps[k - 1]
    args = ", ".join(tensor_literal(g) for g in step.grad_outputs)
    facts = facts if facts is not None else path_facts(study.trace.graph)
    depth, zeros, start = facts[step.node_id]
    if depth > 12:  # a deep node: the full expression would be thousands of characters
        code = (f"node = {start}\nfor i in range({depth}):  # first inputs all the way down\n"
                f"    node = node.next_functions[0][0]\nnode({args})"
                if zeros else f"# {depth} .next_functions hops below {start}\nnode({args})")
    else:
        code = f"{step.path}({args})"
    node = study.nodes.get(step.node_id)
    if node is None or hasattr(node, "variable"):
        target = study.trace.graph.node(step.node_id).tensor
        name = target.name if target and target.name else "the leaf"
        if target is not None and not target.requires_grad:
            return ManualCall(code, f"not called here: {name} no longer requires grad, so "
                              f"AccumulateGrad left {name}.grad as it was", False)
        return ManualCall(code, f"not called here: AccumulateGrad adds what it gets to "
                          f"{name}.grad, so calling it again would change the gradients",
                          False)
    if not run:
        return ManualCall(code, f"not run here: only the first {CALLED_STEPS:,} steps' calls "
                          "are run", False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = node(*step.grad_outputs)
    except Exception as exc:
        return ManualCall(code, f"{type(exc).__name__}: {exc}", True)
    return ManualCall(code, str(result), True)


# --- live -> plain ----------------------------------------------------------------------


def value(tensor: Any) -> Value | None:
    """A live gradient as the page shows it."""
    if tensor is None:
        return None
    return Value(preview(tensor), tuple(tensor.shape))


def frozen_trace(trace: BackwardTrace) -> BackwardTrace:
    """``trace`` with every gradient as a :class:`Value`; equal Values are one object (a
    wide graph hands the same ``[1.]`` around thousands of times), so the Study is that
    much smaller on the server and in the pickle that carries it there."""
    shared: dict[Value, Value] = {}

    def plain(tensor: Any) -> Value | None:
        found = value(tensor)
        return None if found is None else shared.setdefault(found, found)

    def plains(grads: tuple) -> tuple[Value | None, ...]:
        return tuple(plain(g) for g in grads)

    steps = [replace(step, grad_outputs=plains(step.grad_outputs),
                     grad_inputs=plains(step.grad_inputs),
                     fan_in=tuple(Contribution(c.from_node, c.from_step, c.index,
                                               plain(c.grad)) for c in step.fan_in))
             for step in trace.steps]
    return BackwardTrace(trace.graph, steps, trace.root_name, plain(trace.gradient),
                         trace.retain_graph,
                         {k: plain(v) for k, v in trace.leaf_grads.items()})


def shown_warnings(found: list[tuple[int, str]]) -> tuple[tuple[int, str], ...]:
    """The warnings as the page lists them: each distinct one once, with how often it was
    raised, and no more than :data:`SHOWN_WARNINGS` (a loop can raise 100,000)."""
    counts: dict[tuple[int, str], int] = {}
    for item in found:
        counts[item] = counts.get(item, 0) + 1
    shown = [(line, text if n == 1 else f"{text} (raised {n:,} times)")
             for (line, text), n in counts.items()]
    if len(shown) > SHOWN_WARNINGS:
        rest = len(shown) - SHOWN_WARNINGS + 1
        shown = shown[:SHOWN_WARNINGS - 1] + [
            (shown[SHOWN_WARNINGS - 1][0], f"... and {rest:,} other warnings")]
    return tuple(shown)


def freeze(study: Live) -> Study:
    """The plain record of ``study``: everything the page reads, computed from the live
    tensors here, where they are."""
    program = study.program
    tensors = program.tensors() if program is not None else {}
    root = tensors.get(study.root or "")
    trace = study.trace
    tables = {}
    if program is not None:
        tables["tensors"] = tensors_table(program)
    if study.graph is not None:
        tables["nodes"] = nodes_table(study.graph)
    leaves = leaf_names(program) if program is not None else []
    first: dict[str, str] = {}
    calls: tuple[ManualCall, ...] = ()
    frozen = None
    if trace is not None:
        tables["steps"] = steps_table(trace)
        tables["leaf_grads"] = leaf_grads_table(trace)
        ids = {n.tensor.name: n.id for n in trace.graph.leaves() if n.tensor and n.tensor.name}
        first = {n: preview(trace.leaf_grads.get(ids.get(n, ""))) for n in leaves}
        facts = path_facts(trace.graph)
        calls = tuple(manual_call(study, k, k <= CALLED_STEPS, facts)  # type: ignore[misc]
                      for k in range(1, len(trace.steps) + 1))
        frozen = frozen_trace(trace)
    return Study(
        source=study.source, error=study.error, ran=program is not None,
        output=program.output if program else "",
        warnings=shown_warnings(program.warnings) if program else (),
        root=study.root, roots=study.roots,
        root_shape=tuple(root.shape) if root is not None else None,
        root_value=preview(root) if root is not None else None,
        graph=study.graph, trace=frozen, backward_error=study.backward_error,
        passes=study.passes, gradient_code=study.gradient_code,
        intermediates=tuple(n for n, t in tensors.items() if t.grad_fn is not None),
        leaves=tuple(leaves),
        grads={n: preview(t.grad) for n, t in tensors.items()
               if t.is_leaf and (t.requires_grad or t.grad is not None)},
        first_grads=first, calls=calls, tables=tables,
        program_file=program_file(study.source, study.root, study.gradient_code,
                                  trace, bool(program and program.traces)))
