"""Walk ``grad_fn`` nodes through ``next_functions`` into plain, frozen data.

The walk is breadth-first with an explicit queue (no recursion limit), and ids are
``n0, n1, ...`` in walk order, so the same program always gives the same graph.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import torch

from autoviz.autograd.catalog import Catalog
from autoviz.data import (  # noqa: F401  (the plain data, re-exported)
    Graph,
    GraphEdge,
    GraphNode,
    Paths,
    SavedTensor,
    TensorInfo,
    paused_gc,
)

_PREFIX = "torch::autograd::"
PREVIEW_ELEMENTS = 16


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
    values = tensor.tolist()
    if values.__class__ is not list:
        return _number(values)
    if not values or values[0].__class__ is not list:
        return "[" + ", ".join(_texts(values)) + "]"
    # two or more dimensions: every number formatted in one go, then nested again
    shape = tuple(tensor.shape)
    for _ in range(len(shape) - 1):
        values = [v for row in values for v in row]
    template = _TEMPLATES.get(shape)
    if template is None:
        template = _TEMPLATES[shape] = _template(shape)
    return template % tuple(_texts(values))


def _number(value: Any) -> str:
    if value.__class__ is float:
        text = f"{value:.4g}"
        # torch writes a float that happens to be whole as "3.", not "3"
        return text if "." in text or "e" in text or "n" in text else text + "."
    return str(value)


_ROW_FORMATS: dict[int, str] = {}
_TEMPLATES: dict[tuple[int, ...], str] = {}


def _texts(values: list[Any]) -> list[str]:
    """``_number`` of each value; a list of floats (a tensor's ``tolist()``: one type
    throughout) is formatted in one go."""
    if not values or values[0].__class__ is not float:
        return list(map(_number, values))
    size = len(values)
    template = _ROW_FORMATS.get(size)
    if template is None:
        template = _ROW_FORMATS[size] = "%.4g," * size
    texts = (template % tuple(values)).split(",")
    texts.pop()
    return [t if "." in t or "e" in t or "n" in t else t + "." for t in texts]


def _template(shape: tuple[int, ...]) -> str:
    """``"[[%s, %s], [%s, %s]]"`` for shape (2, 2): the nesting of ``tolist()``."""
    if not shape:
        return "%s"
    inner = _template(shape[1:])
    return "[" + ", ".join([inner] * shape[0]) + "]"


def _fmt(value: Any) -> str:
    """The text of a ``tolist()`` value, as :func:`preview` writes it."""
    if value.__class__ is list:
        if not value or value[0].__class__ is not list:
            return "[" + ", ".join(_texts(value)) + "]"
        return "[" + ", ".join(map(_fmt, value)) + "]"
    return _number(value)


def _fast(cls: type, *values: Any) -> Any:
    """A frozen dataclass instance without its per-field ``object.__setattr__`` calls,
    which dominate building graphs of thousands of nodes. All fields, in order."""
    obj = object.__new__(cls)
    obj.__dict__.update(zip(cls.__dataclass_fields__, values))
    return obj


_DTYPE_NAMES: dict[torch.dtype, str] = {}


def _dtype_name(dtype: torch.dtype) -> str:
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype)[6:]  # "torch.float32" -> "float32"
    return name


_READ = object()


def tensor_info(tensor: torch.Tensor, catalog: Catalog | None = None,
                node: Any = _READ) -> TensorInfo:
    """Describe ``tensor`` with its names and origin from ``catalog``; ``node``: its grad_fn
    when the caller knows it (reading it could give a changed view a new node)."""
    if node is _READ:
        node = tensor.grad_fn
    is_leaf = node is None
    names: tuple[str, ...] = ()
    origin = lineno = None
    if catalog is not None:
        key = id(tensor)
        found = catalog.names.get(key)
        if found:
            names = tuple(found)
        lineno = catalog.lines.get(key)
        if node is not None:
            origin = catalog.origins.get((node, tensor.output_nr))
    retains = False if is_leaf else tensor.retains_grad
    grad = None
    if is_leaf or retains:
        value = tensor.grad
        grad = None if value is None else preview(value)
    info = _new(TensorInfo)
    fields = info.__dict__
    fields["name"] = catalog.label(names, id(tensor)) if catalog is not None and names else (
        names[-1] if names else None)
    fields["names"] = names
    fields["shape"] = tuple(tensor.shape)
    fields["dtype"] = _dtype_name(tensor.dtype)
    fields["requires_grad"] = tensor.requires_grad
    fields["is_leaf"] = is_leaf
    fields["retains_grad"] = retains
    fields["grad_fn"] = None if node is None else _names(node)[1]
    fields["value"] = preview(tensor)
    fields["grad"] = grad
    if origin is None:
        fields["lineno"] = lineno
        fields["expr"] = None
        fields["modified"] = False
    else:
        fields["lineno"] = origin.lineno or lineno
        fields["expr"] = origin.expr
        fields["modified"] = origin.version != tensor._version
    return info


_new = object.__new__


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
    roots: tuple[torch.Tensor, ...] = ()  # the tensors walked from
    root_ids: tuple[str, ...] = ()  # the node of each root that has one
    # node index -> the shapes of its outputs (``_input_metadata``), read once
    shapes: dict[int, tuple[tuple[int, ...], ...]] = field(default_factory=dict)

    def output_shapes(self, index: int) -> tuple[tuple[int, ...], ...]:
        """The shapes of what node ``index`` produced (its gradients' shapes)."""
        shapes = self.shapes.get(index)
        if shapes is None:
            shapes = self.shapes[index] = tuple(
                [tuple(m.shape) for m in self.order[index]._input_metadata])
        return shapes


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
    result = Walk([], {}, Paths(), [], [], tuple(roots))
    order, ids, kinds, edges = result.order, result.ids, result.kinds, result.edges
    parents = result.paths.parents
    queue: deque[Any] = deque()
    root_nodes = []
    for i, tensor in enumerate(roots):
        found = root_node(tensor)
        if found is None:
            continue
        root_nodes.append(found[0])
        if found[0] in ids:
            continue
        node, suffix = found
        name = (root_names[i] if i < len(root_names) else None) or "root"
        if suffix == "(leaf)":
            path = f"torch.autograd.graph.get_gradient_edge({name}).node"
        else:
            path = name + suffix
        result.paths.roots[_add(result, node)] = path
        queue.append(node)
    leaf_classes = _LEAF_CLASSES
    new = _new
    while queue:
        node = queue.popleft()
        src = ids[node]
        index = 0
        for child, output_nr in node.next_functions:
            if child is None:
                dst = _node_id(len(order))
                order.append(None)
                kinds.append("none")
                parents[dst] = (src, index)
            else:
                dst = ids.get(child)
                if dst is None:
                    dst = _node_id(len(order))
                    order.append(child)
                    ids[child] = dst
                    kind = leaf_classes.get(child.__class__)
                    if kind is None:
                        kind = _kind(child)
                    kinds.append(kind)
                    parents[dst] = (src, index)
                    queue.append(child)
            edge = new(GraphEdge)
            fields = edge.__dict__
            fields["src"] = src
            fields["dst"] = dst
            fields["index"] = index
            fields["output_nr"] = output_nr
            edges.append(edge)
            index += 1
    result.root_ids = tuple(ids[node] for node in root_nodes)
    return result


_LEAF_CLASSES: dict[type, str] = {}  # node class -> "leaf" (AccumulateGrad) or "function"
_NODE_IDS: list[str] = []


def _node_id(i: int) -> str:
    """``f"n{i}"``, made once per number: every walk numbers its nodes from 0."""
    if i < len(_NODE_IDS):
        return _NODE_IDS[i]
    for j in range(len(_NODE_IDS), i + 1):
        _NODE_IDS.append(f"n{j}")
    return _NODE_IDS[i]


def _kind(node: Any) -> str:
    kind = _LEAF_CLASSES[node.__class__] = "leaf" if hasattr(node, "variable") else "function"
    return kind


def _add(result: Walk, node: Any) -> str:
    node_id = _node_id(len(result.order))
    result.order.append(node)
    if node is not None:
        result.ids[node] = node_id
        result.kinds.append(_LEAF_CLASSES.get(node.__class__) or _kind(node))
    else:
        result.kinds.append("none")
    return node_id


def build_graph(found: Walk, roots: Sequence[torch.Tensor], catalog: Catalog | None = None,
                saved: bool = False) -> Graph:
    """Plain data for a walk: names and values from ``catalog``."""
    nodes = []
    append = nodes.append
    paths = found.paths
    origins = catalog.origins if catalog is not None else None
    infos: dict[int, TensorInfo] = {}  # a tensor met twice (the root's) is described once
    new = _new
    if found.kinds:
        _node_id(len(found.kinds) - 1)  # every id made once, then read from the list
    node_ids = _NODE_IDS
    for i, kind in enumerate(found.kinds):
        graph_node = new(GraphNode)
        fields = graph_node.__dict__
        fields["id"] = node_ids[i]
        fields["kind"] = kind
        fields["paths"] = paths
        if kind == "none":
            fields["name"] = fields["torch_name"] = "None"
            fields["tensor"] = None
            fields["shapes"] = fields["saved"] = ()
            append(graph_node)
            continue
        node = found.order[i]
        tensor = None
        shapes: tuple = ()
        if kind == "leaf":
            tensor = _info(node.variable, catalog, infos, None)
        else:
            origin = None if not origins else origins.get((node, 0))
            if origin is not None:
                tensor = _info(origin.tensor, catalog, infos, node)
            else:
                shapes = found.output_shapes(i)
        fields["torch_name"], fields["name"] = _names(node)
        fields["tensor"] = tensor
        fields["shapes"] = shapes
        fields["saved"] = saved_tensors(node) if saved else ()
        append(graph_node)
    if len(roots) == len(found.roots) and all(a is b for a, b in zip(roots, found.roots)):
        root_ids = found.root_ids
    else:
        root_ids = tuple(found.ids[r[0]] for t in roots if (r := root_node(t)) is not None)
    nodes_tuple = tuple(nodes)
    return _fast(Graph, nodes_tuple, tuple(found.edges), root_ids,
                 tuple(_info(t, catalog, infos) for t in roots),
                 {node.id: node for node in nodes_tuple})


def _info(tensor: torch.Tensor, catalog: Catalog | None, infos: dict[int, TensorInfo],
          node: Any = _READ) -> TensorInfo:
    info = infos.get(id(tensor))
    if info is None:
        info = infos[id(tensor)] = tensor_info(tensor, catalog, node)
    return info


def extract_graph(roots: torch.Tensor | Iterable[torch.Tensor],
                  names: Mapping[str, torch.Tensor] | None = None,
                  catalog: Catalog | None = None, saved: bool = False) -> Graph:
    """The autograd graph behind ``roots`` as plain frozen data.

    ``names`` maps variable names to tensors (like torchviz's ``params``); ``catalog``
    (from a :class:`~autoviz.runner.program.Program`) also knows unnamed intermediates and the
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
    root_names = [catalog.name_of(t) for t in roots]
    with paused_gc():
        return build_graph(walk(roots, root_names), roots, catalog, saved)
