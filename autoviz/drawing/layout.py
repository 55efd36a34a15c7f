"""Layout: DOT text -> SVG laid out once by Graphviz (pygraphviz's bundled copy), in a
worker process (Graphviz holds the GIL and is not thread-safe: never in the server).

Node groups get the graph's own ids (``<g id="n3" class="node">``) so a page can restyle
a node without laying anything out again. Layouts are cached by the DOT text: the same
graph is laid out once, however many steps, sessions or reruns show it.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import threading
from collections import Counter, OrderedDict

CACHE_ENTRIES = 64
# Graphviz's dot takes ~0.2 s for 1,000 nodes and ~1.4 s for 3,000 here (super-linear):
# bigger graphs are folded (autoviz.drawing.collapse) before they get this far.
MAX_LAYOUT_NODES = 2_500


class LayoutError(RuntimeError):
    """Graphviz could not lay the graph out here (missing library, too big, bad DOT)."""


_cache: OrderedDict[str, str] = OrderedDict()
_lock = threading.Lock()
_NODE_GROUP = re.compile(r'<g id="node\d+" class="node">\n<title>([^<]+)</title>')
_EDGE_GROUP = re.compile(r'<g id="edge\d+" class="edge">\n<title>([^<]+)</title>')
_HEADER = re.compile(r"\A.*?(?=<svg)", re.S)
_COMMENT = re.compile(r"<!--.*?-->\n", re.S)
_TITLE = re.compile(r"<title>[^<]*</title>\n")
_TEXT_TAG = re.compile(r"<text [^>]*>")
# text attributes that every label repeats and that SVG inherits from the root
_INHERITED = ("xml:space", "text-anchor", "font-family", "font-size")
_ATTRIBUTE = {name: re.compile(rf' {name}="([^"]*)"') for name in _INHERITED}


@functools.cache
def available() -> bool:
    """Whether layout can run here (pygraphviz and its bundled Graphviz are installed);
    looked up once, without importing it (the search stats the file system)."""
    return importlib.util.find_spec("pygraphviz") is not None


def _edge_id(title: str) -> str:
    # Graphviz escapes the arrow in titles: "n0&#45;&gt;n1".
    return "e-" + title.replace("&#45;&gt;", "-").replace("->", "-")


def _stable_ids(svg: str) -> str:
    svg = _HEADER.sub("", svg, count=1)  # XML prolog and comments: the page inlines the SVG
    svg = _NODE_GROUP.sub(lambda m: f'<g id="{m[1]}" class="node">\n<title>{m[1]}</title>', svg)
    return _EDGE_GROUP.sub(
        lambda m: f'<g id="{_edge_id(m[1])}" class="edge">\n<title>{m[1]}</title>', svg)


def compact_svg(svg: str) -> str:
    """The same picture in fewer bytes (about a third fewer for a big graph): no comments,
    no ``<title>`` (tooltips naming node ids), and each label attribute that most texts
    share said once on the root ``<svg>`` (they inherit it) instead of on every text."""
    svg = _TITLE.sub("", _COMMENT.sub("", svg))
    tags = _TEXT_TAG.findall(svg)
    shared: dict[str, str] = {}
    for name, pattern in _ATTRIBUTE.items():
        values = Counter(m[1] for tag in tags for m in pattern.finditer(tag))
        if values:
            shared[name] = values.most_common(1)[0][0]
    if not shared:
        return svg
    drop = [f' {name}="{value}"' for name, value in shared.items()]

    def strip(match: re.Match[str]) -> str:
        tag = match[0]
        for attribute in drop:
            tag = tag.replace(attribute, "", 1)
        return tag

    svg = _TEXT_TAG.sub(strip, svg)
    return svg.replace("<svg ", "<svg" + "".join(drop) + " ", 1)


def lay_out(dot: str) -> str:
    """The SVG for ``dot`` (Graphviz runs here: call it in a worker). Raises
    :class:`LayoutError`."""
    try:
        import pygraphviz
    except ImportError as exc:
        raise LayoutError("pygraphviz is not installed") from exc
    try:
        graph = pygraphviz.AGraph(string=dot)
        if graph.number_of_nodes() > MAX_LAYOUT_NODES:
            raise LayoutError(f"{graph.number_of_nodes():,} nodes is more than the "
                              f"{MAX_LAYOUT_NODES:,} laid out on the server")
        svg = graph.draw(format="svg", prog="dot")
    except LayoutError:
        raise
    except Exception as exc:  # pygraphviz raises bare errors from Graphviz
        raise LayoutError(f"Graphviz could not lay out the graph: {exc}") from exc
    return compact_svg(_stable_ids(svg.decode("utf-8")))


def render(dot: str, fmt: str) -> bytes:
    """``dot`` laid out as an "svg" or "png" file (the exports; call it in a worker)."""
    import pygraphviz

    if fmt not in ("svg", "png"):
        raise ValueError(f"unknown format {fmt!r}")
    graph = pygraphviz.AGraph(string=dot)
    if graph.number_of_nodes() > MAX_LAYOUT_NODES:
        raise LayoutError(f"{graph.number_of_nodes():,} nodes is more than the "
                          f"{MAX_LAYOUT_NODES:,} drawn on the server")
    return graph.draw(format=fmt, prog="dot")


def layout_svg(dot: str) -> str:
    """The SVG for ``dot`` with node groups ``id``'d by node name, from the cache if the
    same DOT was laid out before, else laid out in a worker. Raises :class:`LayoutError`,
    or :class:`autoviz.worker.JobFailed` (too slow, busy)."""
    from autoviz import worker

    with _lock:
        if dot in _cache:
            _cache.move_to_end(dot)
            return _cache[dot]
    svg = worker.lay_out(dot)
    with _lock:
        _cache[dot] = svg
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return svg


def node_positions(svg: str) -> dict[str, tuple[float, ...]]:
    """Each node's drawn shape coordinates, by id (what "no re-layout" keeps fixed)."""
    found: dict[str, tuple[float, ...]] = {}
    for match in re.finditer(r'<g id="(n\d+|s\d+)" class="node">(.*?)</g>', svg, re.S):
        numbers = re.findall(r'(?:points|d|cx|cy|x|y)="([^"]+)"', match[2])
        found[match[1]] = tuple(float(v) for text in numbers
                                for v in re.findall(r"-?\d+(?:\.\d+)?", text))
    return found
