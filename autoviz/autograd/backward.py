"""Record torch's real backward pass, node by node, with Node hooks.

Nothing here computes a gradient: every number in a :class:`Step` is what torch's engine
handed to a node's hook, in the order the engine ran the nodes.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from typing import Any

import torch

from autoviz.autograd.catalog import Catalog
from autoviz.autograd.graph import Graph, _fast, _names, _node_id, build_graph, paused_gc, walk
from autoviz.data import BackwardTrace, Contribution, Step


def _storage(tensor: torch.Tensor) -> int:
    return tensor.untyped_storage().data_ptr()


def _private(grads: tuple, exposed: set[int]) -> tuple[torch.Tensor | None, ...]:
    """``grads`` as the trace keeps them: the engine's own tensors, except that one the
    program can still reach (it shares memory with a leaf, a leaf's ``.grad`` or the
    ``gradient`` passed in) is copied, and one attached to a graph is detached."""
    for grad in grads:
        if grad is not None and (grad.requires_grad or _storage(grad) in exposed):
            break
    else:
        return grads
    kept = []
    for grad in grads:
        if grad is not None:
            if grad.requires_grad:
                grad = grad.detach()
            if _storage(grad) in exposed:
                grad = grad.clone()
        kept.append(grad)
    return tuple(kept)


class TraceTooBig(RuntimeError):
    """Recording would copy more gradient elements than the caller allows."""


def trace_elements(found: Any) -> int:
    """Elements a trace keeps: each node's received and passed-on gradients."""
    total = 0
    for index, kind in enumerate(found.kinds):
        if kind == "function":
            for shape in found.output_shapes(index):
                total += 2 * math.prod(shape)
        elif kind == "leaf":
            total += 3 * found.order[index].variable.numel()
    return total


def record_backward(root: torch.Tensor, gradient: torch.Tensor | None = None, *,
                    retain_graph: bool | None = True, create_graph: bool = False,
                    inputs: Any = None, catalog: Catalog | None = None,
                    root_name: str | None = None,
                    max_elements: int | None = None, hand_calls: int = 0) -> BackwardTrace:
    """Run ``root.backward(gradient)`` once on torch's engine, recording every node.

    ``retain_graph=True`` (the default) keeps the graph steppable; pass ``None``/``False``
    to run as a plain ``.backward()`` would (its buffers are freed; a second backward
    raises torch's own error). Leaves' ``.grad`` end as one ``root.backward`` leaves them.
    Torch's errors propagate unchanged. ``max_elements`` bounds the gradient elements the
    trace may keep (:class:`TraceTooBig` before anything runs).

    ``hand_calls``: for the first that many steps, each node (not a leaf's AccumulateGrad)
    is also called by hand with what it received, from inside its post-hook: after it ran
    and before torch frees its saved tensors (without ``retain_graph`` it does so right
    after the hooks). What that returns, unreduced, goes in ``trace.hand``: what the page's
    "the same step by hand" shows. Not with ``create_graph`` (the call would add to the
    graph being made).

    The trace keeps the very tensors the engine handed to each node's hook, not copies:
    holding them is what keeps the engine from reusing them. Its in-place shortcuts
    (summing a node's incoming gradients into the first one, a leaf's ``AccumulateGrad``
    adopting the incoming gradient as ``.grad``) only take a tensor nobody else holds, and
    the hooks hold each one from the moment it exists. The one a leaf adopted all the same
    (the sum of several contributions, which no hook saw before ``AccumulateGrad``) is
    then copied, as is anything else sharing memory with a tensor the program can still
    change in place (a leaf, its ``.grad``, ``gradient``).
    """
    if root_name is None and catalog is not None:
        root_name = catalog.name_of(root)
    with paused_gc():
        return _record(root, gradient, retain_graph, create_graph, inputs, catalog, root_name,
                       max_elements, 0 if create_graph else hand_calls)


_recording: list[tuple[list, list]] = []  # (steps so far, hook firings) of each running one


def hook_fired(fire: Any) -> None:
    """A hook of the program's ran in the backward being recorded (if one is): keep it,
    with the step it came before (its ``step`` is filled in here)."""
    if _recording:
        raw, fires = _recording[-1]
        fires.append(replace(fire, step=len(raw) + 1))


def _record(root: torch.Tensor, gradient: torch.Tensor | None, retain_graph: bool | None,
            create_graph: bool, inputs: Any, catalog: Catalog | None, root_name: str | None,
            max_elements: int | None, hand_calls: int) -> BackwardTrace:
    found = walk([root], [root_name])
    if max_elements is not None and trace_elements(found) > max_elements:
        raise TraceTooBig(f"recording this backward would copy more than {max_elements:,} "
                          "gradient elements")
    graph = build_graph(found, [root], catalog)
    raw: list[tuple[Any, tuple, tuple]] = []
    record = raw.append
    hand: dict[int, Any] = {}
    saved: dict[int, dict[str, Any]] = {}

    def by_hand(node: Any, grad_outputs: tuple) -> None:
        index = len(raw) - 1
        values = saved[index] = {}
        for attr in _saved_attributes(node):  # while they are there (the local rule)
            try:
                values[attr] = getattr(node, attr)
            except RuntimeError:
                pass
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the program's warnings are torch's alone
                hand[index] = node(*grad_outputs)
        except Exception as exc:  # noqa: BLE001 - torch's error is what the call gives
            hand[index] = exc

    handles = []
    fires: list = []
    _recording.append((raw, fires))
    try:
        for node, kind in zip(found.order, found.kinds):
            if node is None:
                continue
            if kind == "leaf" or not hand_calls:
                handles.append(node.register_hook(
                    lambda grad_inputs, grad_outputs, node=node:
                    record((node, grad_inputs, grad_outputs))))
            else:
                def hook(grad_inputs: tuple, grad_outputs: tuple, node: Any = node) -> None:
                    record((node, grad_inputs, grad_outputs))
                    if len(raw) <= hand_calls:
                        by_hand(node, grad_outputs)
                handles.append(node.register_hook(hook))
        root.backward(gradient, retain_graph=retain_graph, create_graph=create_graph,
                      inputs=inputs)
    finally:
        _recording.pop()
        for handle in handles:
            handle.remove()
    leaf_grads: dict[str, torch.Tensor | None] = {}
    exposed: set[int] = set()
    if isinstance(gradient, torch.Tensor):
        exposed.add(_storage(gradient))
    for i, kind in enumerate(found.kinds):
        if kind == "leaf":
            variable = found.order[i].variable
            exposed.add(_storage(variable))
            grad = variable.grad
            if grad is None:
                leaf_grads[_node_id(i)] = None
            else:
                exposed.add(_storage(grad))
                leaf_grads[_node_id(i)] = (grad.detach() if grad.requires_grad
                                           else grad).clone()
    raw = [(node, _private(grad_inputs, exposed), _private(grad_outputs, exposed))
           for node, grad_inputs, grad_outputs in raw]
    for index, made in hand.items():  # a node may hand back what it got: the same care
        if isinstance(made, tuple):
            hand[index] = _private(made, exposed)
        elif isinstance(made, torch.Tensor):
            hand[index] = _private((made,), exposed)[0]
    steps = _steps(raw, found, graph)
    return _fast(BackwardTrace, graph, steps, root_name,
                 None if gradient is None else gradient.detach().clone(),
                 bool(retain_graph), leaf_grads, hand,
                 {node_id: node for node, node_id in found.ids.items()}, saved, fires)


_SAVED: dict[type, tuple[str, ...]] = {}


def _saved_attributes(node: Any) -> tuple[str, ...]:
    """A node class's ``_saved_*`` attributes (the values, not their sizes or strides)."""
    names = _SAVED.get(type(node))
    if names is None:
        names = _SAVED[type(node)] = tuple(
            a for a in dir(node) if a.startswith("_saved_")
            and not a.endswith(("_sym_sizes", "_sym_strides", "_sizes", "_strides")))
    return names


def _steps(raw: list[tuple[Any, tuple, tuple]], found: Any, graph: Graph) -> list[Step]:
    ids = found.ids
    step_index = {ids[node]: i for i, (node, _, _) in enumerate(raw)}
    consumers: dict[str, list[tuple[str, int]]] = {}
    nexts: dict[str, list[str]] = {}
    for edge in graph.edges:
        src, dst = edge.src, edge.dst
        if dst in step_index:  # (a None input never runs)
            consumers.setdefault(dst, []).append((src, edge.index))
        if src in nexts:
            nexts[src].append(dst)
        else:
            nexts[src] = [dst]
    roots = graph.roots
    paths = found.paths
    new = object.__new__
    steps = []
    for i, (node, grad_inputs, grad_outputs) in enumerate(raw):
        node_id = ids[node]
        fan_in = []
        if node_id in roots:
            fan_in.append(_contribution(None, None, 0, grad_outputs[0] if grad_outputs else None))
        for src, index in consumers.get(node_id, ()):
            j = step_index.get(src)
            if j is not None and j < i:
                grad = raw[j][1][index]
                if grad is not None:
                    fan_in.append(_contribution(src, j, index, grad))
        step = new(Step)
        fields = step.__dict__  # a frozen dataclass, filled without its __setattr__ checks
        fields["index"] = i
        fields["node_id"] = node_id
        fields["name"] = _names(node)[0]
        fields["grad_outputs"] = grad_outputs
        fields["grad_inputs"] = grad_inputs
        fields["paths"] = paths
        fields["next_ids"] = tuple(nexts.get(node_id, ()))
        fields["fan_in"] = tuple(fan_in)
        steps.append(step)
    return steps


def _contribution(from_node: str | None, from_step: int | None, index: int,
                  grad: torch.Tensor | None) -> Contribution:
    contribution = object.__new__(Contribution)
    fields = contribution.__dict__
    fields["from_node"] = from_node
    fields["from_step"] = from_step
    fields["index"] = index
    fields["grad"] = grad
    return contribution
