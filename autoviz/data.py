"""The plain data that crosses from torch to the page: an autograd graph, a recorded backward.

Nothing here imports torch. In a notebook or a worker the gradients in a trace are live
tensors; the copy a worker sends to the page holds :class:`Value` instead (their text and
shape), so the Streamlit server never needs torch to show them.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass, field
from typing import Any

# A gradient in a trace: a ``torch.Tensor`` while live, a :class:`Value` once frozen.
Grad = Any


@dataclass(frozen=True)
class Value:
    """A tensor as the page needs it: its preview text and its shape."""

    text: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        count = 1
        for size in self.shape:
            count *= size
        return count


def short_path(path: str, limit: int = 300) -> str:
    """A ``next_functions`` path from a deep graph, shortened for a screen or a table (a
    node 2,000 hops down has a 50,000-character path: every node's in full is quadratic)."""
    if len(path) <= limit:
        return path
    hops = path.count(".next_functions")
    return f"{path[:120]} … ({hops:,} hops in all) … {path[-80:]}"


BRIEF_NUMBERS = 6  # a node in the graph shows at most this many numbers of a value
_NUMBER = re.compile(r"-?(?:nan|inf|\d+\.?\d*(?:e[+-]?\d+)?)|True|False")


def brief(text: str, shape: tuple[int, ...]) -> str:
    """A value's preview as a graph node shows it: whole up to :data:`BRIEF_NUMBERS`
    numbers, else its shape and the first few (``(2, 5) [0.1, 0.2, …]``); the full value
    is in the node's details."""
    count = 1
    for size in shape:
        count *= size
    if count <= BRIEF_NUMBERS or not shape or not text.startswith("["):
        return text  # small, or a preview that is only the shape already
    first = _NUMBER.findall(text)[:BRIEF_NUMBERS]
    return f"{shape} [{', '.join(first)}, …]"


def brief_of(value: Value | None) -> str:
    """:func:`brief` of a frozen gradient."""
    return "None" if value is None else brief(text(value), value.shape)


def text(value: Value | None) -> str:
    """The short text of a frozen gradient. A live tensor is refused: reading one here
    would import torch where it must not be (a worker reads them with
    ``autoviz.autograd.graph.preview``)."""
    if value is None:
        return "None"
    if isinstance(value, Value):
        return value.text
    raise TypeError(f"a frozen trace holds Values, not a {type(value).__name__}")


@dataclass(frozen=True)
class TensorInfo:
    """A tensor as the graph shows it: names, shape, dtype, value and badges."""

    name: str | None
    names: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: str
    requires_grad: bool
    is_leaf: bool
    retains_grad: bool
    grad_fn: str | None
    value: str
    grad: str | None
    lineno: int | None = None
    expr: str | None = None
    modified: bool = False  # changed in place after the op that made it


@dataclass(frozen=True)
class SavedTensor:
    """One ``_saved_*`` attribute of a node; ``freed`` after backward without retain_graph."""

    attr: str
    value: str
    freed: bool


@dataclass(frozen=True)
class Paths:
    """How to reach each node from its root, stored as parent links (a deep graph would
    need quadratic memory to store every path in full)."""

    roots: dict[str, str] = field(default_factory=dict)  # root node id -> "O.grad_fn"
    parents: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (parent, slot)

    def __call__(self, node_id: str) -> str:
        """The Python expression for a node, e.g. ``O.grad_fn.next_functions[0][0]``."""
        slots = []
        while node_id not in self.roots:
            node_id, slot = self.parents[node_id]
            slots.append(slot)
        return self.roots[node_id] + "".join(
            f".next_functions[{slot}][0]" for slot in reversed(slots))

    def depth(self, node_id: str) -> int:
        hops = 0
        while node_id not in self.roots:
            node_id = self.parents[node_id][0]
            hops += 1
        return hops


@dataclass(frozen=True)
class GraphNode:
    """One autograd node (``kind`` "function" or "leaf"), or a ``None`` input ("none")."""

    id: str
    kind: str
    name: str
    torch_name: str
    paths: Paths = field(repr=False, compare=False)
    tensor: TensorInfo | None = None
    shapes: tuple[tuple[int, ...], ...] = ()
    saved: tuple[SavedTensor, ...] = ()

    @property
    def path(self) -> str:
        """The expression reaching this node from its root."""
        return self.paths(self.id)


@dataclass(frozen=True)
class GraphEdge:
    """``src.next_functions[index] == (dst, output_nr)``: gradient flows src -> dst."""

    src: str
    dst: str
    index: int
    output_nr: int


@dataclass(frozen=True)
class Graph:
    """An autograd graph as plain data."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    roots: tuple[str, ...]
    root_tensors: tuple[TensorInfo, ...]
    by_id: dict[str, GraphNode] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_id.update((n.id, n) for n in self.nodes)

    def node(self, node_id: str) -> GraphNode:
        return self.by_id[node_id]

    def leaves(self) -> list[GraphNode]:
        return [n for n in self.nodes if n.kind == "leaf"]



@dataclass(frozen=True)
class Contribution:
    """One consumer's share of what a node received (the engine sums them)."""

    from_node: str | None  # consumer node id; None: the gradient given to backward()
    from_step: int | None
    index: int  # which next_functions slot of the consumer
    grad: Grad


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
    grad_outputs: tuple[Grad, ...]
    grad_inputs: tuple[Grad, ...]
    paths: Paths = field(repr=False, compare=False)
    next_ids: tuple[str, ...] = ()
    fan_in: tuple[Contribution, ...] = ()

    @property
    def path(self) -> str:
        """The expression reaching this node from the root, e.g. ``O.grad_fn``."""
        return self.paths(self.node_id)


@dataclass(frozen=True)
class HookFire:
    """One of the program's hooks, run by the engine: before step ``step`` (1-based; a
    node's post-hook: just after it), what it received and what it returned."""

    step: int
    kind: str  # "tensor" (tensor.register_hook), "node" (grad_fn.register_hook), "prehook"
    target: str  # the tensor's name or the node's
    line: int | None  # where the program registered it
    received: str
    returned: str  # "None": it changed nothing

    def describe(self) -> str:
        what = {"tensor": "the hook on", "node": "the post-hook of", "prehook":
                "the pre-hook of"}.get(self.kind, "a hook on")
        at = f" (registered at line {self.line})" if self.line else ""
        change = ("returned None, so the gradient went on unchanged" if self.returned == "None"
                  else f"returned {self.returned}, which the engine used instead")
        return f"{what} {self.target}{at} received {self.received} and {change}"


@dataclass(frozen=True)
class BackwardTrace:
    """A recorded ``root.backward(gradient)``: the graph as it was before, and the steps."""

    graph: Graph
    steps: list[Step]
    root_name: str | None
    gradient: Grad
    retain_graph: bool
    leaf_grads: dict[str, Grad] = field(default_factory=dict)
    # live only: step index -> what calling its node by hand returned (or raised), made
    # from inside the engine's run while the node's saved tensors were still there
    hand: dict[int, Any] = field(default_factory=dict)
    nodes: dict[str, Any] = field(default_factory=dict)  # live only: node id -> the node
    saved: dict[int, dict[str, Any]] = field(default_factory=dict)  # live: step -> _saved_*
    # the program's hooks that fired during this backward, in order (plain text)
    hooks: list[HookFire] = field(default_factory=list)

    def step_of(self, node_id: str) -> Step | None:
        for step in self.steps:
            if step.node_id == node_id:
                return step
        return None


class paused_gc:
    """``with paused_gc():`` turns Python's cyclic garbage collector off inside (if it was
    on). Building a graph (or unpickling one a worker sent) makes tens of thousands of
    objects that all stay alive, and the collector would walk every one of them again and
    again while they are made (half the time of a 20,000-node chain). Nothing made here
    forms a cycle; a collection runs as usual afterwards. Only the caller that turned it
    off turns it back on, so nested and concurrent uses are safe."""

    __slots__ = ("paused",)

    def __enter__(self) -> None:
        self.paused = gc.isenabled()
        if self.paused:
            gc.disable()

    def __exit__(self, *exc_info: Any) -> None:
        if self.paused:
            gc.enable()
