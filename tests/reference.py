"""The reference for the state of the graph at step k: replayed from the first step, the
plain way (the page computes it from a timeline, autoviz.drawing.scene; tests hold the two
equal)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from autoviz.data import BackwardTrace
from autoviz.drawing.collapse import Collapsed
from autoviz.drawing.scene import Scene, done_note


@dataclass(frozen=True)
class Frame:
    """How the graph looks at step k: node status and a note per node."""

    k: int
    status: dict[str, str]
    notes: dict[str, str]


def frame(trace: BackwardTrace, k: int) -> Frame:
    """Step ``k`` of the replay: 0 is before backward, ``len(steps)`` is the end."""
    k = max(0, min(k, len(trace.steps)))
    status: dict[str, str] = {}
    notes: dict[str, str] = {}
    arrived: dict[str, int] = {}
    for step in trace.steps[:k]:
        status[step.node_id] = "done"
        notes[step.node_id] = done_note(trace, step)
        for dst, grad in zip(step.next_ids, step.grad_inputs):
            if grad is not None:
                arrived[dst] = arrived.get(dst, 0) + 1
    if k:
        status[trace.steps[k - 1].node_id] = "current"
    elif trace.graph.roots:
        status[trace.graph.roots[0]] = "pending"
    consumers: dict[str, int] = {}
    for edge in trace.graph.edges:
        consumers[edge.dst] = consumers.get(edge.dst, 0) + 1
    for node_id, count in arrived.items():
        if node_id not in status and trace.graph.node(node_id).kind != "none":
            status[node_id] = "pending"
            total = consumers.get(node_id, count)
            notes[node_id] = (f"waiting: {count} of {total} in" if total > 1
                              else "next")
    return Frame(k, status, notes)


def fold_status(collapsed: Collapsed, status: Mapping[str, str],
                notes: Mapping[str, str], current: tuple[int, str] | None = None,
                ) -> tuple[dict[str, str], dict[str, str]]:
    """A frame's per-node status and notes, as the folded graph shows them: a summary is
    "current" if the step is inside it (its note names the node), "done" when all its
    nodes ran, "pending" while some did."""
    if not collapsed.folds:
        return dict(status), dict(notes)
    out_status = {k: v for k, v in status.items() if k not in collapsed.owner}
    out_notes = {k: v for k, v in notes.items() if k not in collapsed.owner}
    for fold in collapsed.folds:
        states = [status.get(m) for m in fold.members]
        ran = sum(s in ("done", "current") for s in states)
        if "current" in states:
            out_status[fold.id] = "current"
            if current is not None:
                out_notes[fold.id] = f"▶ step {current[0]}: {current[1]}"
        elif ran == fold.runnable:
            out_status[fold.id] = "done"
            out_notes[fold.id] = f"all {ran:,} ran"
        elif ran or "pending" in states:
            out_status[fold.id] = "pending"
            out_notes[fold.id] = f"{ran:,} of {fold.runnable:,} ran"
    return out_status, out_notes


def folded_frame(scene: Scene, trace: BackwardTrace, k: int,
                 ) -> tuple[dict[str, str], dict[str, str]]:
    """Step ``k``'s status and notes per drawn node (summaries included)."""
    shown = frame(trace, k)
    current = None
    if 0 < shown.k <= len(trace.steps):
        step = trace.steps[shown.k - 1]
        current = (shown.k, trace.graph.node(step.node_id).name)
    return fold_status(scene.collapsed, shown.status, shown.notes, current)
