"""What the interactive graph view draws: a folded graph laid out once, and per step only
each drawn node's state (class and note).

The layout's DOT carries no step state. Each node that will ever show a note ("got …",
"grad += …", "waiting: 1 of 2 in") is laid out with its longest note as the last label
line, so a step can swap that line's text without moving anything.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from autoviz.data import BackwardTrace, Graph, Step, brief_of
from autoviz.drawing.collapse import DEFAULT_BUDGET, Collapsed, collapse
from autoviz.drawing.render import to_dot


def done_note(trace: BackwardTrace, step: Step) -> str:
    """A node's note once it ran: what it got (a leaf: what its .grad got, and if torch
    kept nothing, that: AccumulateGrad skips a leaf that no longer requires grad)."""
    received = step.grad_outputs[0] if step.grad_outputs else None
    node = trace.graph.node(step.node_id)
    if node.kind == "leaf":
        if node.tensor is not None and not node.tensor.requires_grad:
            return f"got {brief_of(received)}, kept none (requires_grad=False)"
        before = node.tensor.grad if node.tensor else None
        return (f"grad {brief_of(received)}" if before is None
                else f"grad += {brief_of(received)}")
    if node.tensor is not None and node.tensor.retains_grad:  # retain_grad(): kept in .grad
        return f"got {brief_of(received)}, kept in .grad"
    return f"got {brief_of(received)}"


@dataclass(frozen=True)
class Timeline:
    """When each node of a trace runs and receives, so that a drawn node's state at any
    step costs a lookup, not a replay of the steps before it (tests/reference.py replays
    them, and tests hold the two equal)."""

    done_at: dict[str, int]  # node id -> the step (1-based) that ran it
    notes: dict[str, str]  # node id -> its note once it ran
    arrivals: dict[str, list[int]]  # node id -> the steps that sent it a gradient
    consumers: dict[str, int]
    names: tuple[str, ...]  # per step, the name of the node it ran
    node_ids: tuple[str, ...]  # per step, the id of the node it ran
    start: str | None  # the node pending before backward
    # per fold: sorted steps at which members ran, first got a gradient, and ran having got
    fold_done: dict[str, list[int]] = field(default_factory=dict)
    fold_first: dict[str, list[int]] = field(default_factory=dict)
    fold_done_arrived: dict[str, list[int]] = field(default_factory=dict)


def make_timeline(trace: BackwardTrace, collapsed: Collapsed) -> Timeline:
    """One pass over the steps; notes (value previews) only for the nodes drawn."""
    graph = trace.graph
    done_at: dict[str, int] = {}
    arrivals: dict[str, list[int]] = {}
    notes: dict[str, str] = {}
    for i, step in enumerate(trace.steps, 1):
        done_at.setdefault(step.node_id, i)
        if step.node_id not in collapsed.owner:
            notes[step.node_id] = done_note(trace, step)
        for dst, grad in zip(step.next_ids, step.grad_inputs):
            if grad is not None and graph.node(dst).kind != "none":
                arrivals.setdefault(dst, []).append(i)
    consumers: dict[str, int] = {}
    for edge in graph.edges:
        consumers[edge.dst] = consumers.get(edge.dst, 0) + 1
    timeline = Timeline(
        done_at, notes, arrivals, consumers,
        tuple(graph.node(step.node_id).name for step in trace.steps),
        tuple(step.node_id for step in trace.steps),
        graph.roots[0] if graph.roots else None)
    for fold in collapsed.folds:
        members = fold.members
        timeline.fold_done[fold.id] = sorted(done_at[m] for m in members if m in done_at)
        timeline.fold_first[fold.id] = sorted(arrivals[m][0] for m in members
                                              if m in arrivals)
        timeline.fold_done_arrived[fold.id] = sorted(
            done_at[m] for m in members if m in done_at and m in arrivals)
    return timeline


@dataclass(frozen=True)
class Scene:
    """One laid-out picture of a graph: ``dot`` for Graphviz, ``slots``: the drawn nodes
    whose last label line is a note the page rewrites."""

    collapsed: Collapsed
    dot: str
    slots: tuple[str, ...]
    timeline: Timeline | None = None

    @property
    def graph(self) -> Graph:
        return self.collapsed.graph


def _note_space(collapsed: Collapsed, trace: BackwardTrace | None,
                timeline: Timeline | None) -> dict[str, str]:
    """Per drawn node, the longest note any step gives it (what its box must hold)."""
    if trace is None or timeline is None:
        return {}
    graph = trace.graph
    candidates: dict[str, list[str]] = {k: [v] for k, v in timeline.notes.items()}
    for node_id in timeline.arrivals:
        if node_id not in collapsed.owner:
            total = timeline.consumers.get(node_id, 1)
            candidates.setdefault(node_id, []).append(
                f"waiting: {total} of {total} in" if total > 1 else "next")
    space = {node_id: max(notes, key=len) for node_id, notes in candidates.items()}
    n = len(trace.steps)
    for fold in collapsed.folds:
        longest = max((graph.node(m).name for m in fold.members), key=len)
        m = fold.runnable
        space[fold.id] = max([f"▶ step {n}: {longest}", f"all {m:,} ran", f"{m:,} of {m:,} ran"],
                             key=len)
    return space


def make_scene(graph: Graph, trace: BackwardTrace | None, budget: int = DEFAULT_BUDGET,
               pinned: frozenset[str] = frozenset(), saved: bool = False,
               large: bool = False) -> Scene:
    """Fold ``graph`` to ``budget`` boxes and write the DOT to lay out once."""
    folded = collapse(graph, budget, pinned)
    timeline = make_timeline(trace, folded) if trace is not None else None
    space = _note_space(folded, trace, timeline)
    dot = to_dot(folded.graph, notes=space, saved=saved, large=large)
    return Scene(folded, dot, tuple(sorted(space)), timeline)


def step_state(scene: Scene, trace: BackwardTrace | None, k: int) -> dict[str, list]:
    """Drawn node id -> [status or None, note or None] at step ``k``: what
    :func:`folded_frame` gives, at a cost that grows with the drawn nodes, not with k."""
    t = scene.timeline
    if trace is None or t is None:
        return {}
    k = max(0, min(k, len(t.node_ids)))
    current = t.node_ids[k - 1] if k else None
    out: dict[str, list] = {}
    folds = {f.id: f for f in scene.collapsed.folds}
    for node in scene.graph.nodes:
        node_id = node.id
        fold = folds.get(node_id)
        if fold is not None:
            ran = bisect_right(t.fold_done[node_id], k)
            waiting = (bisect_right(t.fold_first[node_id], k)
                       - bisect_right(t.fold_done_arrived[node_id], k))
            if current is not None and scene.collapsed.owner.get(current) == node_id:
                out[node_id] = ["current", f"▶ step {k}: {t.names[k - 1]}"]
            elif ran == fold.runnable:
                out[node_id] = ["done", f"all {ran:,} ran"]
            elif ran or waiting > 0:
                out[node_id] = ["pending", f"{ran:,} of {fold.runnable:,} ran"]
            continue
        done = t.done_at.get(node_id)
        if done is not None and done <= k:
            out[node_id] = ["current" if node_id == current else "done", t.notes.get(node_id)]
        elif k == 0 and node_id == t.start:
            out[node_id] = ["pending", None]
        elif node.kind != "none" and node_id in t.arrivals:
            got = bisect_right(t.arrivals[node_id], k)
            if got:
                total = t.consumers.get(node_id, got)
                out[node_id] = ["pending", f"waiting: {got} of {total} in" if total > 1
                                else "next"]
    return out


def step_frame(scene: Scene, trace: BackwardTrace | None, k: int
               ) -> tuple[dict[str, str], dict[str, str]]:
    """:func:`step_state` as DOT takes it: status and note per drawn node."""
    state = step_state(scene, trace, k)
    return ({i: s for i, (s, _) in state.items() if s},
            {i: n for i, (_, n) in state.items() if n})


def timeline_scene(graph: Graph, trace: BackwardTrace) -> Scene:
    """``graph`` unfolded, with its timeline: what the classic view restyles per step
    (it lays nothing out ahead, so no DOT is written here)."""
    folded = collapse(graph, 0)
    return Scene(folded, "", (), make_timeline(trace, folded))


def current_id(scene: Scene, trace: BackwardTrace | None, k: int) -> str | None:
    """The drawn node (or summary) holding step ``k``'s node."""
    if trace is None or not 0 < k <= len(trace.steps):
        return trace.graph.roots[0] if trace is not None and trace.graph.roots else None
    return scene.collapsed.shown_as(trace.steps[k - 1].node_id)


def state_change(before: dict[str, list], after: dict[str, list]) -> dict[str, list]:
    """What turns one :func:`step_state` into another: the drawn nodes whose state differs,
    ``[None, None]`` for one that loses its state. Small for neighbouring steps, so the
    page can hold the next and previous steps and show them before the server answers."""
    change = {node_id: value for node_id, value in after.items() if before.get(node_id) != value}
    for node_id in before:
        if node_id not in after:
            change[node_id] = [None, None]
    return change


def neighbours(scene: Scene, trace: BackwardTrace | None, k: int,
               state: dict[str, list]) -> dict[str, dict]:
    """Steps ``k - 1`` and ``k + 1`` (those that exist), each as the change from ``state``
    (step ``k``'s) and the drawn node holding its current node."""
    if trace is None:
        return {}
    out: dict[str, dict] = {}
    for j in (k - 1, k + 1):
        if 0 <= j <= len(trace.steps):
            out[str(j)] = {"change": state_change(state, step_state(scene, trace, j)),
                           "current": current_id(scene, trace, j)}
    return out
