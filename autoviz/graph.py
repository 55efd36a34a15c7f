"""Walk ``grad_fn`` nodes through ``next_functions`` into plain, frozen data.

The walk is breadth-first with an explicit queue (no recursion limit), and ids are
``n0, n1, ...`` in walk order, so the same program always gives the same graph.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import torch

from autoviz.catalog import Catalog

_PREFIX = "torch::autograd::"
PREVIEW_ELEMENTS = 16


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


_NAMES: dict[type, tuple[str, str]] = {}  # node class -> (torch's name, display name)


def _names(node: Any) -> tuple[str, str]:
    cls = node.__class__
    if cls not in _NAMES:  # every node of a class has the same name()
        name = node.name()
        _NAMES[cls] = (name, name[len(_PREFIX):] if name.startswith(_PREFIX) else name)
    return _NAMES[cls]


def display_name(node: Any) -> str:
    """torch's node name without the ``torch::autograd::`` prefix."""
    return _names(node)[1]


def preview(tensor: torch.Tensor | None) -> str:
    """A short text for a tensor's value: all of it when small, else its shape."""
    if tensor is None:
        return "None"
    if tensor.is_meta:
        return "meta"
    if tensor.numel() > PREVIEW_ELEMENTS:
        return f"{tuple(tensor.shape)} {_dtype_name(tensor.dtype)}"
    return _fmt(tensor.detach().tolist())


def _number(value: Any) -> str:
    if value.__class__ is float:
        text = f"{value:.4g}"
        # torch writes a float that happens to be whole as "3.", not "3"
        return text if "." in text or "e" in text or "n" in text else text + "."
    return str(value)


def _fmt(value: Any) -> str:
    if value.__class__ is list:
        if value and value[0].__class__ is not list:
            return "[" + ", ".join(map(_number, value)) + "]"
        return "[" + ", ".join(map(_fmt, value)) + "]"
    return _number(value)


def _fast(cls: type, *values: Any) -> Any:
    """A frozen dataclass instance without its per-field ``object.__setattr__`` calls,
    which dominate building graphs of thousands of nodes. All fields, in order."""
    obj = object.__new__(cls)
    obj.__dict__.update(zip(cls.__dataclass_fields__, values))
    return obj


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype)[6:]  # "torch.float32" -> "float32"


def tensor_info(tensor: torch.Tensor, catalog: Catalog | None = None) -> TensorInfo:
    """Describe ``tensor`` with its names and origin from ``catalog``."""
    node = tensor.grad_fn
    is_leaf = node is None
    names: tuple[str, ...] = ()
    origin = lineno = None
    if catalog is not None:
        names = catalog.names_of(tensor)
        lineno = catalog.lines.get(id(tensor))
        if node is not None:
            origin = catalog.origin(node, tensor.output_nr)
    retains = False if is_leaf else tensor.retains_grad
    grad = None
    if is_leaf or retains:
        value = tensor.grad
        grad = None if value is None else preview(value)
    return _fast(
        TensorInfo,
        names[-1] if names else None, names, tuple(tensor.shape), _dtype_name(tensor.dtype),
        tensor.requires_grad, is_leaf, retains,
        None if node is None else display_name(node), preview(tensor), grad,
        origin.lineno if origin and origin.lineno else lineno,
        origin.expr if origin else None,
        bool(origin and origin.version != tensor._version),
    )


def saved_tensors(node: Any) -> tuple[SavedTensor, ...]:
    """The node's ``_saved_*`` values; freed buffers are marked, never raised."""
    saved = []
    for attr in dir(node):
        if not attr.startswith("_saved_"):
            continue
        try:
            value = getattr(node, attr)
        except RuntimeError:
            saved.append(SavedTensor(attr, "freed", True))
            continue
        if isinstance(value, torch.Tensor):
            text = preview(value)
        elif isinstance(value, (tuple, list)):
            text = "(" + ", ".join(preview(v) if isinstance(v, torch.Tensor) else repr(v)
                                   for v in value) + ")"
        else:
            text = repr(value)
        saved.append(SavedTensor(attr, text, False))
    return tuple(saved)


@dataclass
class Walk:
    """The live side of a walk: nodes in order and their ids (never crosses to the UI)."""

    order: list[Any]
    ids: dict[Any, str]
    paths: Paths
    edges: list[GraphEdge]
    kinds: list[str]


def root_node(tensor: torch.Tensor) -> tuple[Any, str] | None:
    """The node backward starts from, and the expression reaching it (None: no graph, and
    torch's own backward says why)."""
    try:
        if tensor.grad_fn is not None:
            return tensor.grad_fn, ".grad_fn"
        if tensor.requires_grad:
            node = torch.autograd.graph.get_gradient_edge(tensor).node
            if node is not None:
                return node, "(leaf)"
    except (RuntimeError, AssertionError, AttributeError):  # no_grad views, inference_mode
        pass
    return None


def walk(roots: Sequence[torch.Tensor], root_names: Sequence[str | None] = ()) -> Walk:
    """Breadth-first over ``next_functions`` from each root; ``None`` inputs kept."""
    result = Walk([], {}, Paths(), [], [])
    queue: deque[Any] = deque()
    for i, tensor in enumerate(roots):
        found = root_node(tensor)
        if found is None or found[0] in result.ids:
            continue
        node, suffix = found
        name = (root_names[i] if i < len(root_names) else None) or "root"
        if suffix == "(leaf)":
            path = f"torch.autograd.graph.get_gradient_edge({name}).node"
        else:
            path = name + suffix
        result.paths.roots[_add(result, node)] = path
        queue.append(node)
    while queue:
        node = queue.popleft()
        src = result.ids[node]
        for index, (child, output_nr) in enumerate(node.next_functions):
            if child is not None and child in result.ids:
                dst = result.ids[child]
            else:
                dst = _add(result, child)
                result.paths.parents[dst] = (src, index)
                if child is not None:
                    queue.append(child)
            result.edges.append(GraphEdge(src, dst, index, output_nr))
    return result


_LEAF_CLASSES: dict[type, bool] = {}


def _add(result: Walk, node: Any) -> str:
    node_id = f"n{len(result.order)}"
    result.order.append(node)
    if node is not None:
        result.ids[node] = node_id
        cls = node.__class__
        if cls not in _LEAF_CLASSES:
            _LEAF_CLASSES[cls] = hasattr(node, "variable")
        result.kinds.append("leaf" if _LEAF_CLASSES[cls] else "function")
    else:
        result.kinds.append("none")
    return node_id


def build_graph(found: Walk, roots: Sequence[torch.Tensor], catalog: Catalog | None = None,
                saved: bool = False) -> Graph:
    """Plain data for a walk: names and values from ``catalog``."""
    nodes = []
    for i, (node, kind) in enumerate(zip(found.order, found.kinds)):
        node_id = f"n{i}"
        if kind == "none":
            nodes.append(_fast(GraphNode, node_id, "none", "None", "None", found.paths, None,
                               (), ()))
            continue
        tensor = None
        if kind == "leaf":
            tensor = tensor_info(node.variable, catalog)
        elif catalog is not None:
            origin = catalog.origin(node, 0)
            if origin is not None:
                tensor = tensor_info(origin.tensor, catalog)
        torch_name, name = _names(node)
        shapes = () if kind == "leaf" or tensor is not None else tuple(
            tuple(m.shape) for m in node._input_metadata)
        nodes.append(_fast(GraphNode, node_id, kind, name, torch_name, found.paths, tensor,
                           shapes, saved_tensors(node) if saved else ()))
    root_ids = tuple(found.ids[r[0]] for t in roots if (r := root_node(t)) is not None)
    return Graph(tuple(nodes), tuple(found.edges), root_ids,
                 tuple(tensor_info(t, catalog) for t in roots))


def extract_graph(roots: torch.Tensor | Iterable[torch.Tensor],
                  names: Mapping[str, torch.Tensor] | None = None,
                  catalog: Catalog | None = None, saved: bool = False) -> Graph:
    """The autograd graph behind ``roots`` as plain frozen data.

    ``names`` maps variable names to tensors (like torchviz's ``params``); ``catalog``
    (from a :class:`~autoviz.program.Program`) also knows unnamed intermediates and the
    line that made each tensor. ``saved=True`` reads every node's ``_saved_*`` values.
    """
    if isinstance(roots, torch.Tensor):
        roots = [roots]
    roots = list(roots)
    if catalog is None:
        catalog = Catalog.from_names(names)
    elif names:
        for key, tensor in names.items():
            catalog.bind(key, tensor)
    root_names = [(catalog.names_of(t) or (None,))[-1] for t in roots]
    return build_graph(walk(roots, root_names), roots, catalog, saved)
