"""Plain graph data (+ the step being shown) -> Graphviz DOT text. Pure functions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import graphviz

from autoviz.data import Graph, GraphNode, brief

if TYPE_CHECKING:
    import torch

    from autoviz.autograd.catalog import Catalog

# Colours a projector shows apart, and that read in greyscale too.
FILL = {"function": "#eeeeee", "leaf": "#cfe8ff", "summary": "#e6dcf5"}  # summary: folded
STATUS_FILL = {"current": "#ffca28", "done": "#c8e6c9", "pending": "#fff3e0"}
STATUS_PEN = {"current": "4", "done": "1.5", "pending": "2"}
EXPR_CHARS = 32


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _title(node: GraphNode) -> str | None:
    tensor = node.tensor
    if tensor is None:
        return None
    expr = tensor.expr
    if expr and len(expr) > EXPR_CHARS:
        expr = expr[: EXPR_CHARS - 1] + "…"
    if tensor.name and expr and expr != tensor.name and node.kind == "function":
        return f"{tensor.name} = {expr}"
    return tensor.name or expr


def node_label(node: GraphNode, note: str | None = None, saved: bool = True) -> str:
    """The text inside one node: user name, torch name, value, grad, saved, note."""
    if node.kind == "none":
        return "None"
    lines = []
    title = _title(node)
    if title:
        lines.append(title)
    lines.append(node.name)
    tensor = node.tensor
    if tensor is not None:
        lines.append(brief(tensor.value, tensor.shape) if tensor.value != "None"
                     else str(tensor.shape))
        if node.kind == "leaf" and tensor.grad is not None:
            lines.append(f"grad {brief(tensor.grad, tensor.shape)}")
    elif node.shapes:
        lines.append(" ".join(map(str, node.shapes)))
    for item in node.saved if saved else ():
        lines.append(f"{item.attr} = {'(freed)' if item.freed else item.value}")
    if note:
        lines.append(note)
    return "\n".join(lines)


def dot_lines(graph: Graph, status: Mapping[str, str] | None = None,
              notes: Mapping[str, str] | None = None, saved: bool = True) -> list[str]:
    """The body of the DOT graph: one line per node and per edge."""
    status = status or {}
    notes = notes or {}
    inputs: dict[str, int] = {}
    for edge in graph.edges:
        inputs[edge.src] = inputs.get(edge.src, 0) + 1
    lines = []
    roots = set(graph.roots)
    nones = set()
    for node in graph.nodes:
        node_id = node.id
        if node.kind == "none":  # node_label is "None" whatever the note
            nones.add(node_id)
            lines.append(f'\t{node_id} [label="None" shape=plaintext style="" '
                         'fontcolor="#777777"]')
            continue
        note = notes.get(node_id) if notes else None
        if node.tensor is None and not note and not (saved and node.saved):
            # node_label's common case: the torch name and the output shapes
            shapes = node.shapes
            label = _quote(node.name + "\n" + _shapes_text(shapes) if shapes else node.name)
        else:
            label = _quote(node_label(node, note, saved))
        state = status.get(node_id) if status else None
        fill = STATUS_FILL[state] if state else FILL[node.kind]
        pen = STATUS_PEN[state] if state else ("3" if node_id in roots else "1")
        style = "rounded,filled,dashed" if state == "pending" else "rounded,filled"
        lines.append(f'\t{node_id} [label={label} fillcolor="{fill}" penwidth={pen} '
                     f'style="{style}"]')
    for edge in graph.edges:
        src, dst, index = edge.src, edge.dst, edge.index
        if inputs[src] > 1 and index >= 0:
            if dst in nones:
                lines.append(f'\t{src} -> {dst} [label=" {index}" style=dashed '
                             'color="#999999"]')
            else:
                lines.append(f'\t{src} -> {dst} [label=" {index}"]')
        elif dst in nones:
            lines.append(f'\t{src} -> {dst} [style=dashed color="#999999"]')
        else:
            lines.append(f"\t{src} -> {dst}")
    return lines


_SHAPE_TEXTS: dict[tuple, str] = {}


def _shapes_text(shapes: tuple[tuple[int, ...], ...]) -> str:
    """``" ".join(map(str, shapes))``, remembered (a graph repeats a few shapes)."""
    text = _SHAPE_TEXTS.get(shapes)
    if text is None:
        if len(_SHAPE_TEXTS) > 10_000:
            _SHAPE_TEXTS.clear()
        text = _SHAPE_TEXTS[shapes] = " ".join(map(str, shapes))
    return text


GRAPH_ATTRS = {"rankdir": "TB", "bgcolor": "white", "nodesep": "0.3", "ranksep": "0.35"}
NODE_ATTRS = {"shape": "box", "style": "rounded,filled", "fontname": "Helvetica",
              "fontsize": "14", "margin": "0.15,0.06"}
EDGE_ATTRS = {"fontname": "Helvetica", "fontsize": "11", "arrowsize": "0.7"}
# Projector: big type and thick lines that read from the back of a lecture hall.
LARGE_NODE_ATTRS = {**NODE_ATTRS, "fontsize": "22", "penwidth": "2", "margin": "0.2,0.08"}
LARGE_EDGE_ATTRS = {**EDGE_ATTRS, "fontsize": "18", "penwidth": "2.5", "arrowsize": "1"}


def to_digraph(graph: Graph, status: Mapping[str, str] | None = None,
               notes: Mapping[str, str] | None = None, saved: bool = True,
               large: bool = False) -> graphviz.Digraph:
    """A :class:`graphviz.Digraph` of ``graph``; arrows follow ``next_functions``.

    ``status`` maps node ids to "current"/"done"/"pending" (the replay's state), ``notes``
    adds a line to a node, ``saved=False`` leaves out saved tensors the graph holds,
    ``large=True`` is the projector style."""
    dot = graphviz.Digraph(name="autograd", graph_attr=GRAPH_ATTRS,
                           node_attr=LARGE_NODE_ATTRS if large else NODE_ATTRS,
                           edge_attr=LARGE_EDGE_ATTRS if large else EDGE_ATTRS)
    dot.body.extend([line + "\n" for line in dot_lines(graph, status, notes, saved)])
    return dot


def to_dot(graph: Graph, status: Mapping[str, str] | None = None,
           notes: Mapping[str, str] | None = None, saved: bool = True,
           large: bool = False) -> str:
    """DOT text of ``graph``: byte-identical for the same graph and step."""
    return to_digraph(graph, status, notes, saved, large).source


def draw(*tensors: torch.Tensor, names: Mapping[str, torch.Tensor] | None = None,
         catalog: Catalog | None = None, saved: bool = False) -> graphviz.Digraph:
    """Draw the autograd graph behind ``tensors`` (renders inline in Jupyter).

    ``names`` maps variable names to tensors so nodes read ``w`` rather than a shape,
    e.g. ``draw(loss, names={"w": w, "b": b, "loss": loss})`` or ``names=locals()``.
    ``saved=True`` adds each node's saved tensors.
    """
    from autoviz.autograd.graph import extract_graph  # torch: only in a notebook or a worker

    return to_digraph(extract_graph(tensors, names=names, catalog=catalog, saved=saved))
