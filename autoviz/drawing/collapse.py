"""A node budget for big graphs: fold chains and deep stretches into summary nodes.

Above the budget, runs of single-input, single-consumer nodes become one "chain" node, and
if that is not enough, the nodes farthest from the root are folded, a stretch of depth at
a time, into "band" nodes. Roots, pinned nodes (what the user expanded) and, when they fit
in half the budget, the leaves always stay. The result is another :class:`Graph` (summary
nodes have ``kind == "summary"``) plus a record of what each summary holds, so the page
can say what was folded and expand a summary on click.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from autoviz.data import Graph, GraphEdge, GraphNode

DEFAULT_BUDGET = 300
MAX_BANDS = 10
KINDS_SHOWN = 3


@dataclass(frozen=True)
class Fold:
    """One summary node: ``kind`` "chain" or "band", and the ids of the nodes it holds."""

    id: str
    kind: str
    members: tuple[str, ...]
    depths: tuple[int, int]
    runnable: int = 0  # members that are nodes the engine can run (not None inputs)


@dataclass(frozen=True)
class Collapsed:
    """The graph as drawn under a node budget."""

    graph: Graph
    folds: tuple[Fold, ...]
    total: int  # nodes in the full graph
    owner: dict[str, str] = field(default_factory=dict, repr=False)  # node id -> fold id

    def shown_as(self, node_id: str) -> str:
        """The id drawn for ``node_id``: itself, or the summary holding it."""
        return self.owner.get(node_id, node_id)

    def fold(self, fold_id: str) -> Fold | None:
        return next((f for f in self.folds if f.id == fold_id), None)

    def describe(self) -> str:
        """One sentence for the page: what was folded."""
        if not self.folds:
            return ""
        parts = []
        for kind, one, many in (("chain", "chain", "chains"),
                                ("band", "deep stretch", "deep stretches")):
            folds = [f for f in self.folds if f.kind == kind]
            if folds:
                held = sum(len(f.members) for f in folds)
                parts.append(f"{len(folds)} {one if len(folds) == 1 else many} ({held:,} nodes)")
        return (f"Showing {len(self.graph.nodes):,} boxes for {self.total:,} nodes: "
                f"{' and '.join(parts)} "
                + ("is folded into a summary box. Click it" if len(self.folds) == 1 else
                   "are folded into summary boxes. Click one")
                + " to expand it.")


def _levels(graph: Graph) -> dict[str, int]:
    """Breadth-first distance from the roots (edges come in walk order)."""
    level = {root: 0 for root in graph.roots}
    for edge in graph.edges:
        if edge.dst not in level:
            level[edge.dst] = level.get(edge.src, 0) + 1
    return level


def _chains(graph: Graph, consumers: Mapping[str, list[str]], inputs: Mapping[str, list[str]],
            fixed: set[str]) -> list[list[str]]:
    """Maximal runs (length >= 2) of function nodes with one consumer and one input that is
    not ``None``; a run takes its nodes' ``None`` inputs along."""
    by_id = graph.by_id
    real = {src: [d for d in dsts if by_id[d].kind != "none"] for src, dsts in inputs.items()}

    def linkable(node: GraphNode) -> bool:
        return (node.kind == "function" and node.id not in fixed
                and len(consumers.get(node.id, ())) == 1 and len(real.get(node.id, ())) == 1)

    ok = {n.id for n in graph.nodes if linkable(n)}
    runs = []
    for node in graph.nodes:
        if node.id not in ok or consumers[node.id][0] in ok:
            continue  # not a run's first node
        run = [node.id]
        while (nxt := real[run[-1]][0]) in ok:
            run.append(nxt)
        if len(run) >= 2:
            nones = [d for r in run for d in inputs[r]
                     if by_id[d].kind == "none" and len(consumers[d]) == 1 and d not in fixed]
            runs.append(run + nones)
    return runs


def _summary(fold: Fold, graph: Graph) -> GraphNode:
    names = Counter(graph.node(m).name for m in fold.members
                    if graph.node(m).kind != "none")  # None inputs: counted, not listed
    kinds = [f"{count:,}× {name}" for name, count in names.most_common(KINDS_SHOWN)]
    if len(names) > KINDS_SHOWN:
        kinds.append(f"+{len(names) - KINDS_SHOWN} more kinds")
    lo, hi = fold.depths
    head = (f"⋯ chain of {len(fold.members):,} nodes" if fold.kind == "chain"
            else f"⋯ {len(fold.members):,} nodes, depth {lo}–{hi}")
    text = "\n".join([head, *kinds, "(click to expand)"])
    first = graph.node(fold.members[0])
    return GraphNode(fold.id, "summary", text, "", first.paths)


def collapse(graph: Graph, budget: int = DEFAULT_BUDGET,
             pinned: Iterable[str] = ()) -> Collapsed:
    """``graph`` folded to about ``budget`` boxes (``budget <= 0``: no folding).

    ``pinned`` node ids are never folded (what the user expanded; the page's choice)."""
    total = len(graph.nodes)
    if budget <= 0 or total <= budget:
        return Collapsed(graph, (), total)
    consumers: dict[str, list[str]] = {}
    inputs: dict[str, list[str]] = {}
    for edge in graph.edges:
        consumers.setdefault(edge.dst, []).append(edge.src)
        inputs.setdefault(edge.src, []).append(edge.dst)
    fixed = set(graph.roots) | (set(pinned) & set(graph.by_id))
    leaves = [n.id for n in graph.nodes if n.kind == "leaf"]
    if len(fixed) + len(leaves) <= budget // 2:
        fixed.update(leaves)
    level = _levels(graph)
    depth = [level.get(n.id, 0) for n in graph.nodes]

    # 1. chains; a unit is a node or a chain, placed at its first node's depth
    units: list[list[str]] = []
    chained: set[str] = set()
    runs = _chains(graph, consumers, inputs, fixed)
    start = {run[0]: run for run in runs}
    for run in runs:
        chained.update(run)
    order = {n.id: i for i, n in enumerate(graph.nodes)}
    for node in graph.nodes:
        if node.id in start:
            units.append(start[node.id])
        elif node.id not in chained and node.id not in fixed:
            units.append([node.id])
    folds: list[list[str]] = list(runs)
    kinds = ["chain"] * len(folds)

    # 2. bands: keep the units nearest the root, fold the deepest ones a stretch at a time
    room = max(budget - len(fixed), 2)
    if len(units) > room:
        units.sort(key=lambda u: (depth[order[u[0]]], order[u[0]]))
        bands = max(1, min(MAX_BANDS, room // 10))
        keep = room - bands
        rest = units[keep:]
        size = -(-len(rest) // bands)
        folds = [u for u in units[:keep] if len(u) > 1]
        kinds = ["chain"] * len(folds)
        for i in range(0, len(rest), size):
            members = [m for unit in rest[i:i + size] for m in unit]
            if len(members) > 1:
                folds.append(members)
                kinds.append("band")
    return _build(graph, folds, kinds, depth, order, total)


def _build(graph: Graph, groups: list[list[str]], kinds: list[str], depth: list[int],
           order: Mapping[str, int], total: int) -> Collapsed:
    owner: dict[str, str] = {}
    folds = []
    for members, kind in zip(groups, kinds):
        members = sorted(members, key=order.__getitem__)
        fold_id = "s" + members[0][1:]
        ds = [depth[order[m]] for m in members]
        runnable = sum(graph.node(m).kind != "none" for m in members)
        folds.append(Fold(fold_id, kind, tuple(members), (min(ds), max(ds)), runnable))
        owner.update((m, fold_id) for m in members)
    summaries = {f.id: _summary(f, graph) for f in folds}
    nodes = []
    for node in graph.nodes:
        shown = owner.get(node.id)
        if shown is None:
            nodes.append(node)
        elif shown == "s" + node.id[1:]:  # a fold's first member: the summary goes here
            nodes.append(summaries[shown])
    edges = []
    seen = set()
    for edge in graph.edges:
        src, dst = owner.get(edge.src, edge.src), owner.get(edge.dst, edge.dst)
        if src == dst:
            continue
        if src == edge.src and dst == edge.dst:
            edges.append(edge)
        elif (src, dst) not in seen:
            seen.add((src, dst))
            edges.append(GraphEdge(src, dst, -1, edge.output_nr))
    drawn = Graph(tuple(nodes), tuple(edges), graph.roots, graph.root_tensors)
    return Collapsed(drawn, tuple(folds), total, owner)
