"""Record torch's real backward pass, node by node, with Node hooks.

Nothing here computes a gradient: every number in a :class:`Step` is what torch's engine
handed to a node's hook, in the order the engine ran the nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from autoviz.catalog import Catalog
from autoviz.graph import Graph, Paths, build_graph, walk


@dataclass(frozen=True)
class Contribution:
    """One consumer's share of what a node received (the engine sums them)."""

    from_node: str | None  # consumer node id; None: the gradient given to backward()
    from_step: int | None
    index: int  # which next_functions slot of the consumer
    grad: torch.Tensor | None


@dataclass(frozen=True)
class Step:
    """One node as the engine ran it.

    ``grad_outputs``: what the node received (gradients w.r.t. its outputs, already summed
    over consumers). ``grad_inputs``: what it passed on, one per ``next_functions`` entry.
    Both in the sense of torch's ``Node.register_hook``.
    """

    index: int
    node_id: str
    name: str
    grad_outputs: tuple[torch.Tensor | None, ...]
    grad_inputs: tuple[torch.Tensor | None, ...]
    paths: Paths = field(repr=False, compare=False)
    next_ids: tuple[str, ...] = ()
    fan_in: tuple[Contribution, ...] = ()

    @property
    def path(self) -> str:
        """The expression reaching this node from the root, e.g. ``O.grad_fn``."""
        return self.paths(self.node_id)


@dataclass(frozen=True)
class BackwardTrace:
    """A recorded ``root.backward(gradient)``: the graph as it was before, and the steps."""

    graph: Graph
    steps: list[Step]
    root_name: str | None
    gradient: torch.Tensor | None
    retain_graph: bool
    leaf_grads: dict[str, torch.Tensor | None] = field(default_factory=dict)

    def step_of(self, node_id: str) -> Step | None:
        for step in self.steps:
            if step.node_id == node_id:
                return step
        return None


def _snapshot(grads: Sequence[torch.Tensor | None]) -> tuple[torch.Tensor | None, ...]:
    # A copy: AccumulateGrad may adopt a gradient as .grad, which later backwards and
    # zero_() change in place.
    return tuple(None if g is None else g.detach().clone() for g in grads)


class TraceTooBig(RuntimeError):
    """Recording would copy more gradient elements than the caller allows."""


def trace_elements(found: Any) -> int:
    """Elements a trace copies: each node's received and passed-on gradients."""
    total = 0
    for node in found.order:
        if node is not None:
            total += 2 * sum(math.prod(m.shape) for m in node._input_metadata)
            if hasattr(node, "variable"):
                total += node.variable.numel()
    return total


def record_backward(root: torch.Tensor, gradient: torch.Tensor | None = None, *,
                    retain_graph: bool | None = True, create_graph: bool = False,
                    inputs: Any = None, catalog: Catalog | None = None,
                    root_name: str | None = None,
                    max_elements: int | None = None) -> BackwardTrace:
    """Run ``root.backward(gradient)`` once on torch's engine, recording every node.

    ``retain_graph=True`` (the default) keeps the graph steppable; pass ``None``/``False``
    to run as a plain ``.backward()`` would (its buffers are freed; a second backward
    raises torch's own error). Leaves' ``.grad`` end as one ``root.backward`` leaves them.
    Torch's errors propagate unchanged. ``max_elements`` bounds the gradient elements the
    trace may copy (:class:`TraceTooBig` before anything runs).
    """
    if root_name is None and catalog is not None:
        names = catalog.names_of(root)
        root_name = names[-1] if names else None
    found = walk([root], [root_name])
    if max_elements is not None and trace_elements(found) > max_elements:
        raise TraceTooBig(f"recording this backward would copy more than {max_elements:,} "
                          "gradient elements")
    graph = build_graph(found, [root], catalog)
    raw: list[tuple[Any, tuple, tuple]] = []
    handles = []
    try:
        for node in found.order:
            if node is None:
                continue

            def hook(grad_inputs: tuple, grad_outputs: tuple, node: Any = node) -> None:
                raw.append((node, _snapshot(grad_inputs), _snapshot(grad_outputs)))

            handles.append(node.register_hook(hook))
        root.backward(gradient, retain_graph=retain_graph, create_graph=create_graph,
                      inputs=inputs)
    finally:
        for handle in handles:
            handle.remove()
    steps = _steps(raw, found, graph)
    leaf_grads = {n.id: _grad_of(found.order[int(n.id[1:])]) for n in graph.leaves()}
    return BackwardTrace(graph, steps, root_name,
                         None if gradient is None else gradient.detach().clone(),
                         bool(retain_graph), leaf_grads)


def _grad_of(node: Any) -> torch.Tensor | None:
    grad = node.variable.grad
    return None if grad is None else grad.detach().clone()


def _steps(raw: list[tuple[Any, tuple, tuple]], found: Any, graph: Graph) -> list[Step]:
    step_index = {found.ids[node]: i for i, (node, _, _) in enumerate(raw)}
    consumers: dict[str, list[tuple[str, int]]] = {}
    nexts: dict[str, list[str]] = {}
    for edge in graph.edges:
        consumers.setdefault(edge.dst, []).append((edge.src, edge.index))
        nexts.setdefault(edge.src, []).append(edge.dst)
    steps = []
    for i, (node, grad_inputs, grad_outputs) in enumerate(raw):
        node_id = found.ids[node]
        fan_in = []
        if node_id in graph.roots:
            fan_in.append(Contribution(None, None, 0, grad_outputs[0] if grad_outputs else None))
        for src, index in consumers.get(node_id, ()):
            j = step_index.get(src)
            if j is not None and j < i and raw[j][1][index] is not None:
                fan_in.append(Contribution(src, j, index, raw[j][1][index]))
        steps.append(Step(i, node_id, node.name(), grad_outputs, grad_inputs,
                          found.paths, tuple(nexts.get(node_id, ())), tuple(fan_in)))
    return steps
