"""Program + choices -> a :class:`~autoviz.lesson.study.Study`: run it, record backward, and read
off the live tensors everything the page will show. Runs where torch is (a worker
process, or a notebook); what it returns holds no tensor and no autograd node.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, replace
from typing import Any

import torch

from autoviz.autograd.backward import record_backward
from autoviz.autograd.graph import Graph, extract_graph, preview
from autoviz.data import BackwardTrace, Contribution, Value
from autoviz.drawing.export import program_file
from autoviz.lesson.rules import local_rule
from autoviz.lesson.study import BACKWARD, ManualCall, Pass, Study, Table
from autoviz.lesson.tables import leaf_grads_table, nodes_table, steps_table, tensors_table
from autoviz.runner.errors import ProgramError
from autoviz.runner.limits import Limits
from autoviz.runner.program import Program, run_program

# Steps whose manual call is run (and its result shown); past it the call is shown unrun:
# torch's repr of each result costs ~0.6 ms: a 5,000-step chain would spend 3 s on them.
CALLED_STEPS = Limits().hand_calls
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
    which: int = 0  # of the program's own backward calls, the one stepped through (1…)


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
               where: Any = None, limits: Limits | None = None, which: int = 0) -> Study:
    """Run ``source``, record backward from ``root`` (default: the best candidate), and
    return what the page shows, as plain data. ``where``: see :func:`run_program` (0 once
    the program has run); ``limits``: the runner's caps (its defaults if None); ``which``:
    of the program's own backward calls, the one to step through (1, 2…; 0: the last)."""
    live = run_study(source, root, gradient, retain_graph, actions, where, limits, which)
    if live.program is not None:  # the program's hooks ran in the recorded backward: done
        for handle in live.program.handles:
            handle.remove()
    return freeze(live)


def run_study(source: str, root: str | None = None, gradient: str | None = None,
              retain_graph: bool = True, actions: tuple[str, ...] = (),
              where: Any = None, limits: Limits | None = None, which: int = 0) -> Live:
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
    chosen = which - 1 if 1 <= which <= len(program.traces) else len(program.traces) - 1
    if program.traces and (root is None or root == program.traces[chosen].root_name):
        # the program called .backward() itself: step through what torch did then (a
        # gradient kept from another program has nothing to say here)
        study.which = chosen + 1
        study.trace = program.traces[chosen]
        study.root = study.trace.root_name
        study.graph = study.trace.graph
        tensor = program.namespace.get(study.root or "")
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
    grad = None
    if gradient and tensor.numel() == 1:
        gradient = None  # the page asks for one only for a non-scalar root: this one is stale
    if gradient:
        try:
            grad = parse_gradient(gradient)
        except ProgramError as exc:
            study.backward_error = f"gradient: {exc}"
            return study
        study.gradient_code = gradient_expression(gradient)
    try:
        study.trace = record_backward(tensor, grad, retain_graph=retain_graph,
                                      catalog=program.catalog, root_name=study.root,
                                      hand_calls=(limits or Limits()).hand_calls)
    except Exception as exc:  # torch's own error, shown as torch wrote it
        study.backward_error = f"{type(exc).__name__}: {exc}"
        return study
    study.passes = tuple(_replay(study, tensor, grad, retain_graph, actions))
    return study


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


LITERAL_NUMBERS = 1_000  # a gradient up to this many numbers is written out in full
SHALLOW = 12  # hops below which a node's path is written as one expression
NOT_NEEDED = "None"  # ManualCall.adjust: the engine passed None on (backward's inputs=)


def _number(value: Any) -> str:
    """A Python number as text that gives it back exactly (repr is the shortest such)."""
    if isinstance(value, complex):
        return f"complex({_number(value.real)}, {_number(value.imag)})"
    if isinstance(value, float) and not math.isfinite(value):
        return "torch.nan" if math.isnan(value) else ("torch.inf" if value > 0 else
                                                       "-torch.inf")
    return repr(value)


def _nested(values: Any) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v) for v in values) + "]"
    return _number(values)


def tensor_literal(tensor: torch.Tensor | None) -> str | None:
    """Python text that rebuilds ``tensor`` exactly (every digit, its dtype), or None when
    it is too big to write out and not one repeated number."""
    if tensor is None:
        return "None"
    tensor = tensor.detach()
    dtype = "" if tensor.dtype == torch.float32 else f", dtype=torch.{str(tensor.dtype)[6:]}"
    if tensor.numel() == 0:
        return f"torch.zeros{tuple(tensor.shape)}" if not dtype else \
            f"torch.zeros({tuple(tensor.shape)}{dtype})"
    if tensor.numel() > 1:
        first = tensor.reshape(-1)[0]
        if bool((tensor == first).all()) and not bool(torch.isnan(first).any()) \
                and bool((tensor.signbit() == first.signbit()).all()):  # -0. is not 0.
            shape = "(" + ", ".join(map(str, tensor.shape)) + ("," if tensor.dim() == 1
                                                               else "") + ")"
            return f"torch.full({shape}, {_number(first.item())}{dtype})"
    if tensor.numel() > LITERAL_NUMBERS:
        return None
    return f"torch.tensor({_nested(tensor.tolist())}{dtype})"


def anchors(study: Live) -> dict[str, tuple[str, tuple[int, ...]]]:
    """For each node of the trace, the program variable (at the end of the program) whose
    ``grad_fn`` reaches it in the fewest ``next_functions`` hops, and the slots taken. The
    root's own name comes first; a variable rebound to another tensor reaches its own
    graph, never the nodes that ran (they are matched by identity)."""
    trace, program = study.trace, study.program
    if trace is None or program is None:
        return {}
    by_object = {id(node): node_id for node_id, node in trace.nodes.items()}
    names = list(program.namespace)
    if trace.root_name in program.namespace:
        names.remove(trace.root_name)
        names.insert(0, trace.root_name)
    found: dict[str, tuple[str, tuple[int, ...]]] = {}
    queue: list[tuple[Any, str, tuple[int, ...]]] = []
    for name in names:
        value = program.namespace[name]
        if not isinstance(value, torch.Tensor) or not name.isidentifier():
            continue
        try:
            node = value.grad_fn
        except RuntimeError:
            continue
        node_id = by_object.get(id(node)) if node is not None else None
        if node_id is not None and node_id not in found:
            found[node_id] = (name, ())
            queue.append((node, name, ()))
    for node, name, slots in queue:  # breadth first: the queue grows as it is read
        for slot, (child, _) in enumerate(node.next_functions):
            child_id = by_object.get(id(child)) if child is not None else None
            if child_id is not None and child_id not in found:
                found[child_id] = (name, (*slots, slot))
                queue.append((child, name, (*slots, slot)))
    return found


LONG_PATH = 500  # hops past which a mixed path is not written out (its text would be huge)


def _reach(anchor: tuple[str, tuple[int, ...]]) -> str:
    name, slots = anchor
    if len(set(slots)) > 1 and len(slots) > LONG_PATH:
        return ""  # the call then says no variable reaches it in writing
    if len(slots) <= SHALLOW:
        return f"node = {name}.grad_fn" + "".join(f".next_functions[{i}][0]" for i in slots)
    if len(set(slots)) == 1:  # the same slot all the way down
        return (f"node = {name}.grad_fn\nfor _ in range({len(slots)}):\n"
                f"    node = node.next_functions[{slots[0]}][0]")
    return (f"node = {name}.grad_fn\nfor slot in {list(slots)}:  # {len(slots)} hops down\n"
            "    node = node.next_functions[slot][0]")


def _adjust(made: Any, passed: Any, edge: bool) -> tuple[str, str]:
    """What the engine did to one slot's gradient between the node's return and the next
    node (torch's validate_outputs): summed it to its input's shape, cast its dtype, or
    (``edge``: a next node is there) passed None on where ``backward(inputs=...)`` needs
    nothing (called by hand, the node computes that slot all the same)."""
    if passed is None and edge:
        return NOT_NEEDED, "not needed (backward's inputs=): the engine passed on None"
    if not isinstance(made, torch.Tensor) or not isinstance(passed, torch.Tensor):
        return "", ""
    suffix, notes = "", []
    if made.shape != passed.shape:
        suffix += (".sum()" if not passed.dim() else
                   ".sum_to_size(" + ", ".join(map(str, passed.shape)) + ")")
        notes.append(f"summed over broadcast: {tuple(made.shape)} → {tuple(passed.shape)}")
    if made.dtype != passed.dtype:
        suffix += f".to(torch.{str(passed.dtype)[6:]})"
        notes.append(f"cast to {str(passed.dtype)[6:]}")
    return suffix, ", ".join(notes)


def manual_call(study: Live, k: int, run: bool = True,
                reach: dict[str, tuple[str, tuple[int, ...]]] | None = None
                ) -> ManualCall | None:
    """Step ``k``'s node called by hand with exactly what it received, as Python that
    reaches that very node from a variable of the program (AccumulateGrad is not called:
    it would add to ``.grad`` a second time). The result is what the call returned while
    the step ran (``trace.hand``), so it is there even after torch freed the saved tensors;
    ``run=False``: past the steps called by hand, the call is only written.
    ``reach``: :func:`anchors` of the study, when many calls are written."""
    trace = study.trace
    if trace is None or not 1 <= k <= len(trace.steps):
        return None
    step = trace.steps[k - 1]
    literals = [tensor_literal(g) for g in step.grad_outputs]
    exact = all(t is not None for t in literals)
    args = ", ".join(t if t is not None else f"torch.zeros{tuple(g.shape)}"
                     for t, g in zip(literals, step.grad_outputs))  # the note says why
    reach = reach if reach is not None else anchors(study)
    anchor = reach.get(step.node_id)
    reach_text = _reach(anchor) if anchor else ""
    head = reach_text or ("# no variable of the program reaches this node now (the root "
                          "has no name, or its name went to another tensor)")
    node = trace.nodes.get(step.node_id)
    target = trace.graph.node(step.node_id)
    if node is None or target.kind == "leaf":
        tensor = target.tensor
        name = tensor.name if tensor and tensor.name else "the leaf"
        code = f"{head}\nnode({args})"
        if tensor is not None and not tensor.requires_grad:
            result = (f"not called here: {name} no longer requires grad, so AccumulateGrad "
                      f"left {name}.grad as it was")
        else:
            result = (f"not called here: AccumulateGrad adds what it gets to {name}.grad, so "
                      "calling it again would change the gradients")
        return ManualCall(code, result, False, reach_text, args)
    made = trace.hand.get(k - 1)
    outputs = made if isinstance(made, tuple) else (made,)
    edges = [trace.graph.node(n).kind != "none" for n in step.next_ids]
    pairs = [_adjust(m, p, e) for m, p, e in zip(outputs, step.grad_inputs, edges)] \
        if made is not None and not isinstance(made, BaseException) else []
    adjust = tuple(a for a, _ in pairs)
    call = f"node({args})"
    if any(adjust):
        slots = ["None" if a == NOT_NEEDED else
                 f"out{'[' + str(i) + ']' if isinstance(made, tuple) else ''}{a}"
                 for i, a in enumerate(adjust)]
        code = f"{head}\nout = {call}\n" + ", ".join(slots) + \
            ("," if len(slots) == 1 else "") + "  # as the engine passed them on"
    elif anchor and len(anchor[1]) <= SHALLOW:
        code = reach_text.removeprefix("node = ") + f"({args})"  # one expression
    else:
        code = f"{head}\n{call}"
    notes = []
    if not exact:
        notes.append("a gradient here is too big to write out: the call as written passes "
                     "zeros of its shape, the result below is for what the node got")
    if not trace.retain_graph:
        notes.append("torch freed the saved tensors after this backward (no retain_graph): "
                     "run the call before it, or with retain_graph=True; the result below "
                     "was taken while the step ran")
    common = dict(reach=reach_text, args=args, adjust=adjust,
                  slot_notes=tuple(n for _, n in pairs), note="; ".join(notes),
                  exact=exact and bool(reach_text))
    if made is None:
        reason = ("this backward made a graph (create_graph)" if run and trace.hand
                  and k <= CALLED_STEPS else f"only the first {len(trace.hand) or CALLED_STEPS:,}"
                  " steps' calls are run")
        return ManualCall(code, f"not run here: {reason}", False, **common)
    if isinstance(made, BaseException):
        return ManualCall(code, f"{type(made).__name__}: {made}", True, **common)
    shown = tuple(m if not a else p for m, a, p in zip(outputs, adjust, step.grad_inputs))
    result = shown if isinstance(made, tuple) else shown[0]
    return ManualCall(code, str(result), True, **common)


def _line(lineno: int | None) -> str:
    return f" at line {lineno}" if lineno else ""


def no_gradient(study: Live) -> tuple[tuple[str, str], ...]:
    """After the backward: every named leaf that requires grad (or did, until the program
    turned it off) whose ``.grad`` is still None, with the cause in words and its line."""
    program, trace = study.program, study.trace
    if program is None or trace is None:
        return ()
    catalog = program.catalog
    upstream = _cut_leaves(catalog)
    in_graph = {id(node.variable) for node in trace.nodes.values()
                if getattr(node, "variable", None) is not None}
    found = []
    for name, tensor in program.tensors().items():
        if tensor.grad_fn is not None or tensor.grad is not None:
            continue
        cut = catalog.cut_of(tensor) or upstream.get(id(tensor))
        if not tensor.requires_grad and (cut is None or cut[0] != "off"):
            continue
        how, lineno = cut if cut is not None else ("", None)
        root = trace.root_name or "the root"
        reason = {
            "off": f"requires_grad was turned off{_line(lineno)}, so AccumulateGrad kept "
                   "nothing",
            "detach": f"it was detached{_line(lineno)}: .detach() makes a tensor with no "
                      "history, so nothing flows back to it",
            "no_grad": f"it was used under torch.no_grad(){_line(lineno)}: nothing was "
                       "recorded there, so nothing flows back to it",
            "detach_from": f"what was made from it was detached{_line(lineno)}: .detach() "
                           "makes a tensor with no history, so nothing flows back to it",
            "no_grad_from": f"what was made from it was used under torch.no_grad()"
                            f"{_line(lineno)}: nothing was recorded there, so nothing flows "
                            "back to it",
        }.get(how, "the engine did not reach it: backward's inputs= left it out"
              if id(tensor) in in_graph else
              f"{root} does not depend on it: it is not in {root}'s graph")
        found.append((name, reason))
    return tuple(found)


def _cut_leaves(catalog: Any) -> dict[int, tuple[str, int | None]]:
    """The leaves behind each tensor whose history was cut (a ``.detach()`` of an
    intermediate, an intermediate used under no_grad): they are cut there too."""
    leaves: dict[int, tuple[str, int | None]] = {}
    seen: set[int] = set()  # one walk for all: the first cut to reach a leaf names it
    for how, lineno, tensor in list(catalog.cuts.values()):
        if how not in ("detach", "no_grad") or tensor.grad_fn is None:
            continue
        stack = [tensor.grad_fn]
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            variable = getattr(node, "variable", None)
            if variable is not None:
                leaves.setdefault(id(variable), (how + "_from", lineno))
            stack.extend(child for child, _ in node.next_functions)
    return leaves


def root_note(study: Live) -> str:
    """Why the root has no graph, when the program made it under no_grad."""
    program = study.program
    root = program.namespace.get(study.root or "") if program is not None else None
    if not isinstance(root, torch.Tensor) or root.requires_grad:
        return ""
    cut = program.catalog.cut_of(root)
    if cut is None or cut[0] != "made":
        return ""
    return (f"it was computed under torch.no_grad(){_line(cut[1])} from tensors that "
            "require grad, so autograd recorded no graph")


HISTORY_ROWS = 2_000  # rows of the per-call table (the losses are all kept)


def history(program: Program | None) -> tuple[tuple[float | None, ...], Table | None]:
    """The program's own backward calls: the root's value at each (a loss curve), and per
    call each named leaf's value then and the gradient that call gave it."""
    if program is None or len(program.traces) < 2:
        return (), None
    rows = []
    for index, (trace, (lineno, _)) in enumerate(zip(program.traces, program.calls), 1):
        root = trace.graph.node(trace.graph.roots[0]).tensor if trace.graph.roots else None
        for node in trace.graph.leaves():
            if len(rows) >= HISTORY_ROWS or node.tensor is None or not node.tensor.name:
                continue
            rows.append((index, lineno, root.value if root is not None else "",
                         node.tensor.name, node.tensor.value,
                         preview(trace.leaf_grads.get(node.id))))
    losses = tuple(value for _, value in program.calls)
    return losses, Table(("backward", "line", "root", "leaf", "value before", "grad"),
                         tuple(rows))


def gradient_notes(study: Live) -> tuple[tuple[str, str], ...]:
    """Each gradient ``torch.autograd.grad(..., create_graph=True)`` returned without a
    graph of its own, named, and why: it is a constant (the classic confusion)."""
    program = study.program
    if program is None:
        return ()
    notes = []
    for name, value in program.namespace.items():
        if not isinstance(value, torch.Tensor) or value.requires_grad:
            continue
        found = program.catalog.gradients.get(id(value))
        if found is None or found[1] is not value:
            continue
        notes.append((name, f"torch.autograd.grad(..., create_graph=True){_line(found[0])} "
                            f"gave {name} = {preview(value)} with no grad_fn: this derivative "
                            "depends on no tensor that requires grad (it is a constant), so "
                            "there is no graph to differentiate again. Its backward() would "
                            "raise torch's RuntimeError: element 0 of tensors does not "
                            "require grad and does not have a grad_fn"))
    return tuple(notes)


def _freed(graph: Graph | None) -> Graph | None:
    """``graph`` with every saved tensor marked freed: after a backward without
    retain_graph, torch has released them all."""
    if graph is None or not any(node.saved for node in graph.nodes):
        return graph
    nodes = tuple(replace(node, saved=tuple(replace(item, freed=True) for item in node.saved))
                  if node.saved else node for node in graph.nodes)
    return replace(graph, nodes=nodes, by_id={node.id: node for node in nodes})


def rules_of(trace: BackwardTrace) -> tuple[tuple[str, ...], ...]:
    """Every step's local rule with its numbers (:mod:`autoviz.lesson.rules`), from what
    each node saved as the step ran; a leaf's AccumulateGrad has none."""
    graph = trace.graph
    found = []
    for index, step in enumerate(trace.steps):
        if graph.node(step.node_id).kind == "leaf" or index not in trace.saved:
            found.append(())
            continue
        inputs: list[str | None] = []
        edges = []
        for next_id in step.next_ids:
            target = graph.node(next_id)
            tensor = target.tensor
            inputs.append(tensor.name if tensor and tensor.name else
                          f"({tensor.expr})" if tensor and tensor.expr else None)
            edges.append(target.kind != "none")
        received = step.grad_outputs[0] if step.grad_outputs else None
        made = trace.hand.get(index)
        outputs = made if isinstance(made, tuple) else (made,)
        summed = [isinstance(m, torch.Tensor) and isinstance(p, torch.Tensor)
                  and m.shape != p.shape for m, p in zip(outputs, step.grad_inputs)]
        found.append(local_rule(step.name.rpartition("::")[2], trace.saved[index], inputs,
                                received, step.grad_inputs, edges, summed))
    return tuple(found)


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
                         {k: plain(v) for k, v in trace.leaf_grads.items()},
                         hooks=list(trace.hooks))


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
    losses, calls_table = history(program)
    if trace is not None:
        tables["steps"] = steps_table(trace)
        tables["leaf_grads"] = leaf_grads_table(trace)
        ids = {n.tensor.name: n.id for n in trace.graph.leaves() if n.tensor and n.tensor.name}
        first = {n: preview(trace.leaf_grads.get(ids.get(n, ""))) for n in leaves}
        reach = anchors(study)
        calls = tuple(manual_call(study, k, k <= CALLED_STEPS, reach)  # type: ignore[misc]
                      for k in range(1, len(trace.steps) + 1))
        frozen = frozen_trace(trace)
    return Study(
        source=study.source, error=study.error, ran=program is not None,
        output=program.output if program else "",
        warnings=shown_warnings(program.warnings) if program else (),
        root=study.root, roots=study.roots,
        root_shape=tuple(root.shape) if root is not None else None,
        root_value=preview(root) if root is not None else None,
        graph=_freed(study.graph) if trace is not None and not trace.retain_graph
        else study.graph, trace=frozen, backward_error=study.backward_error,
        passes=study.passes, gradient_code=study.gradient_code,
        intermediates=tuple(n for n, t in tensors.items() if t.grad_fn is not None),
        leaves=tuple(leaves),
        grads={n: preview(t.grad) for n, t in tensors.items()
               if t.is_leaf and (t.requires_grad or t.grad is not None)},
        retained={n: preview(t.grad) for n, t in tensors.items()
                  if not t.is_leaf and t.retains_grad},
        first_grads=first, calls=calls, rules=rules_of(trace) if trace else (),
        no_gradient=no_gradient(study), root_note=root_note(study),
        gradient_notes=gradient_notes(study),
        which=study.which, backward_calls=len(program.traces) if program else 0,
        losses=losses, history=calls_table,
        tables=tables,
        program_file=program_file(study.source, study.root, study.gradient_code,
                                  trace, bool(program and program.traces)))
