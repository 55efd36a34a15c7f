"""The page's tables (and their CSV downloads) as plain rows, read where the tensors are."""

from __future__ import annotations

import warnings

import torch

from autoviz.autograd.backward import BackwardTrace
from autoviz.autograd.graph import Graph, display_name, preview
from autoviz.data import short_path
from autoviz.lesson.study import Table
from autoviz.runner.program import Program


def grad_text(tensor: torch.Tensor) -> str:
    """``tensor.grad`` as a student would see it, with torch's warning for a non-leaf."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grad = tensor.grad
    if caught:
        return f"None ({caught[0].category.__name__}: {caught[0].message})"
    return preview(grad)


def tensors_table(program: Program) -> Table:
    """One row per named tensor: name, shape, dtype, requires_grad, is_leaf, grad_fn, grad."""
    rows = []
    for name, t in program.tensors().items():
        rows.append({
            "name": name, "shape": str(tuple(t.shape)),
            "dtype": str(t.dtype).removeprefix("torch."),
            "requires_grad": t.requires_grad, "is_leaf": t.is_leaf,
            "retains_grad": t.retains_grad,
            "grad_fn": "None" if t.grad_fn is None else display_name(t.grad_fn),
            "value": preview(t), "grad": grad_text(t),
        })
    return _table(rows, ["name", "shape", "dtype", "requires_grad", "is_leaf",
                                       "retains_grad", "grad_fn", "value", "grad"])


def _all_paths(graph: Graph) -> dict[str, str]:
    """Every node's path in one pass (parents come first in walk order): what
    ``node.path`` gives each node, without walking back to the root once per node."""
    found: dict[str, str] = {}
    for node in graph.nodes:
        links = node.paths
        if node.id in links.roots:
            found[node.id] = links.roots[node.id]
        elif node.id in links.parents and links.parents[node.id][0] in found:
            parent, slot = links.parents[node.id]
            found[node.id] = f"{found[parent]}.next_functions[{slot}][0]"
        else:
            found[node.id] = node.path
    return found


def nodes_table(graph: Graph) -> Table:
    """One row per graph node: id, torch name, produced tensor, inputs, saved tensors."""
    inputs: dict[str, list[str]] = {}
    for edge in graph.edges:
        target = graph.node(edge.dst)
        inputs.setdefault(edge.src, []).append(
            f"[{edge.index}] {target.name if target.kind != 'none' else 'None'}"
            + (f" ({target.id})" if target.kind != "none" else ""))
    paths = _all_paths(graph)
    rows = []
    for node in graph.nodes:
        if node.kind == "none":
            continue
        tensor = node.tensor
        produced = ""
        if tensor is not None:
            produced = tensor.name or tensor.expr or ""
        rows.append({
            "id": node.id, "node": node.name, "tensor": produced,
            "next_functions": ", ".join(inputs.get(node.id, [])),
            "saved": "; ".join(f"{s.attr}={'freed' if s.freed else s.value}"
                               for s in node.saved),
            "path": short_path(paths[node.id]),
        })
    return _table(rows, ["id", "node", "tensor", "next_functions", "saved",
                                       "path"])


def steps_table(trace: BackwardTrace) -> Table:
    """One row per engine step: index, node, what it received, what it passed on."""
    rows = []
    for step in trace.steps:
        node = trace.graph.node(step.node_id)
        rows.append({
            "step": step.index + 1, "id": step.node_id, "node": node.name,
            "tensor": (node.tensor.name or node.tensor.expr or "") if node.tensor else "",
            "received (grad_outputs)": ", ".join(preview(g) for g in step.grad_outputs),
            "passed on (grad_inputs)": ", ".join(preview(g) for g in step.grad_inputs) or "—",
        })
    return _table(rows, ["step", "id", "node", "tensor",
                                       "received (grad_outputs)", "passed on (grad_inputs)"])


def leaf_grads_table(trace: BackwardTrace) -> Table:
    """Each leaf's ``.grad`` after the recorded backward."""
    rows = []
    for node in trace.graph.leaves():
        grad = trace.leaf_grads.get(node.id)
        rows.append({"leaf": node.tensor.name if node.tensor and node.tensor.name else node.id,
                     "shape": str(node.tensor.shape) if node.tensor else "",
                     "grad": preview(grad)})
    return _table(rows, ["leaf", "shape", "grad"])


def _table(rows: list[dict], columns: list[str]) -> Table:
    return Table(tuple(columns), tuple(tuple(row[c] for c in columns) for row in rows))
