"""The main page: editor, graph, stepper, step panel, tables, toggles, comparison."""

from __future__ import annotations

import functools
import math
import weakref
from functools import partial
from typing import Callable

import pandas as pd
import pyarrow as pa
import streamlit as st

from autoviz import worker
from autoviz.data import Graph, short_path
from autoviz.data import text as preview
from autoviz.drawing import layout
from autoviz.drawing.render import to_dot
from autoviz.drawing.scene import Scene, step_frame, timeline_scene
from autoviz.lesson.edits import Toggles, statement_lines
from autoviz.lesson.study import (
    BACKWARD,
    ZERO,
    Comparison,
    Study,
)
from ui import graphview
from ui.state import current_toggles, reset_run, session_id
from ui.text import code, code_block, plain

GRAPH_HEIGHT = 420  # px: the landing graph at its full size, and the program below it at 1280x800
PROJECTOR_HEIGHT = 560
LEGEND = ("**Legend** — grey: `grad_fn` node · blue: leaf (`AccumulateGrad`) · thick border: "
          "the root · amber: the step now · green: done · dashed: gradient arriving · "
          "`None`: an input that needs no grad · arrows follow `next_functions`")
INTERACTIVE_HELP = (" · drag to pan, wheel or pinch to zoom, double-click to fit · click a node "
                    "for its details, a folded box to expand it")


def error_box(title: str, message: str) -> None:
    """An error: ``title`` is the page's words, ``message`` (torch's, Python's or about
    the user's text) is shown literally, never as Markdown."""
    st.error(f"**{title}**\n\n{code_block(message)}", icon="⚠️")


def backward_section(study: Study) -> None:
    """Which tensor to call backward on, its gradient argument, retain_graph."""
    roots = list(study.roots)
    if roots:
        index = roots.index(study.root) if study.root in roots else 0
        st.selectbox("Call backward on", roots, index=index, key="root_pick",
                     on_change=_pick_root)
        shape = study.root_shape
        if shape is not None and math.prod(shape) != 1:
            st.text_input("gradient= (non-scalar root)", key="gradient",
                          placeholder=f"torch.ones({', '.join(map(str, shape))})",
                          on_change=reset_run,
                          help="Leave empty to see torch's own error for a non-scalar root.")
    st.checkbox("Show saved tensors (_saved_*)", key="show_saved")
    st.checkbox("retain_graph=True", key="retain", on_change=reset_run,
                help="Off: the first backward frees the graph's buffers, and a second "
                     "backward fails with torch's own error.")


def _pick_root() -> None:
    st.session_state.root = st.session_state.root_pick
    st.session_state.gradient = ""
    reset_run()


def tools_row(shown: Study, options: ToggleOptions, study: Study,
              dot: Callable[[], str] | None, link: str) -> None:
    """Over the editor, next to what they change: the toggles (program rewrites), the
    backward() call's arguments, and share / export."""
    count = current_toggles().count()
    row = st.container(horizontal=True, key="tools")
    with row.popover(f"Toggles ({count} on)" if count else "Toggles",
                     icon=":material/tune:", help="no_grad, .detach(), requires_grad, "
                     "retain_grad(): each rewrites the program, and the graph follows"):
        toggles_section(options)
    with row.popover("backward()", icon=":material/undo:",
                     help="Which tensor to call backward on, and its arguments"):
        backward_section(shown)
    with row.popover("Share and export", icon=":material/share:"):
        share_section(link)
        export_section(study, dot)


ToggleOptions = tuple[list[str], list[str], list[tuple[int, str]]]


def _toggle_options(study: Study) -> ToggleOptions:
    """What the toggles can name in ``study``: intermediates, leaves to freeze, lines."""
    intermediates = list(study.intermediates)
    frozen_options = sorted(set(study.leaves) | set(st.session_state.frozen))
    return intermediates, frozen_options, statement_lines(study.source)


def settle_toggles(study: Study) -> tuple[Toggles, ToggleOptions]:
    """The toggles in force for ``study``, and what they can name there: choices it does
    not offer (a link's, or the last program's) are dropped from the state first, as the
    widgets drawn later (:func:`toggles_section`, given the same options) will show."""
    options = _toggle_options(study)
    intermediates, frozen_options, lines = options
    if st.session_state.no_grad == "line" and lines:
        if st.session_state.no_grad_line not in dict(lines):
            st.session_state.no_grad_line = lines[0][0]
    _keep_options("detach", intermediates)
    _keep_options("retain_grad", intermediates)
    _keep_options("frozen", frozen_options)
    return current_toggles(), options


def toggles_section(options: ToggleOptions) -> None:
    """no_grad / detach / requires_grad / retain_grad, as program rewrites (the state and
    the options as :func:`settle_toggles` left and found them)."""
    intermediates, frozen_options, lines = options
    st.radio("torch.no_grad()", ["off", "all", "line"], key="no_grad", horizontal=True,
             on_change=reset_run, help="Around the whole computation, or around one line.")
    if st.session_state.no_grad == "line" and lines:
        st.selectbox("no_grad around line", [n for n, _ in lines],
                     format_func=lambda n: f"{n}: {dict(lines)[n][:40]}",
                     key="no_grad_line", on_change=reset_run)
    st.multiselect(".detach() at", intermediates, key="detach", on_change=reset_run)
    st.multiselect("requires_grad off (frozen)", frozen_options, key="frozen",
                   on_change=reset_run)
    st.multiselect("retain_grad() on", intermediates, key="retain_grad", on_change=reset_run)


def _keep_options(key: str, options: list[str]) -> None:
    st.session_state[key] = [v for v in st.session_state[key] if v in options]


def _step_to(k: int) -> None:
    st.session_state.step = k


def stepper_section(n: int) -> int:
    """Reset / Prev / Next / Run to end, keyboard ←/→, and a slider. Step 0: before."""
    k = max(0, min(int(st.session_state.step), n))
    st.session_state.step = k
    # key "stepper": on a phone it is a bar fixed at the bottom of the screen (page CSS)
    row = st.container(horizontal=True, vertical_alignment="center", key="stepper")
    row.button("", on_click=_step_to, args=(0,), disabled=k == 0, shortcut="Home",
               key="reset", icon=":material/first_page:", help="Reset: step 0, before backward")
    # in the interactive view the graph counts ←/→ itself (no press lost in a burst)
    keys = st.session_state.get("view") == "classic" or not layout.available()
    row.button("Prev", on_click=_step_to, args=(k - 1,), disabled=k == 0,
               shortcut="Left" if keys else None, key="prev", icon=":material/chevron_left:")
    row.button("Next", on_click=_step_to, args=(k + 1,), disabled=k >= n,
               shortcut="Right" if keys else None,
               key="next", type="primary", icon=":material/chevron_right:",
               icon_position="right")
    row.button("", on_click=_step_to, args=(n,), disabled=k >= n, shortcut="End",
               key="end", icon=":material/last_page:", help="Run to end")
    if n:
        st.slider("Step", 0, n, key="step", label_visibility="collapsed",
                  help="Step 0 is before backward.")
    return int(st.session_state.step)


def display_section() -> None:
    """How the graph is drawn: the view, and the node budget above which it folds."""
    with st.expander("Graph display"):
        st.radio("View", ["interactive", "classic"], key="view", horizontal=True,
                 format_func=lambda v: {"interactive": "Interactive",
                                        "classic": "Classic"}[v],
                 help="Interactive: laid out once on the server; pan, zoom, click. "
                      "Classic: Streamlit's graphviz chart, laid out in your browser.")
        st.number_input("Node budget", min_value=0, max_value=layout.MAX_LAYOUT_NODES,
                        step=50, key="budget",
                        help="Above this many boxes, chains and deep stretches fold into "
                             "summary boxes (click one to expand it). 0: draw everything.")


def graph_section(study: Study, k: int, large: bool = False) -> Callable[[], str] | None:
    """The autograd graph with the replay's state at step ``k``: the interactive view
    (server layout, pan/zoom/click, folded above the node budget), or Streamlit's
    graphviz chart when the server cannot lay it out or the user picked it. Returns a
    function giving the DOT of what is drawn (for the exports)."""
    assert study.graph is not None
    if not study.graph.nodes:
        st.info(_no_graph(study), icon="ℹ️")
        return None
    saved = bool(st.session_state.get("show_saved"))
    height = PROJECTOR_HEIGHT if large else GRAPH_HEIGHT
    graph = study.graph
    if st.session_state.get("view") != "classic" and layout.available():
        try:
            scene = graphview.show(study, k, height, large, saved)
        except (layout.LayoutError, worker.JobFailed) as exc:
            st.caption(f"Interactive view unavailable ({code(str(exc))}); "
                       "showing the classic view.")
        else:
            graph = scene.graph
            if scene.collapsed.folds:
                _folded_note(study, scene.collapsed.describe())
            return lambda: _step_dot(study, graph, k, saved, large)
    if st.session_state.get("view_error"):
        st.caption("The interactive view failed in this browser "
                   f"({code(st.session_state.view_error)}); showing the classic view.")
    dot = _step_dot(study, graph, k, saved, large)
    st.graphviz_chart(dot, width="stretch", height=height)
    return lambda: dot


def legend() -> None:
    """What the graph's colours and borders mean (and, interactive, what a click does)."""
    interactive = st.session_state.get("view") != "classic" and layout.available()
    st.caption(LEGEND + (INTERACTIVE_HELP if interactive else ""))


def _step_dot(study: Study, graph: Graph, k: int, saved: bool, large: bool) -> str:
    """DOT of ``graph`` (the study's, or its folded picture) with step ``k``'s state."""
    if study.trace is None:
        return to_dot(graph, saved=saved, large=large)
    if graph is not study.graph:
        scene = graphview.scene_for(study, large, saved)[0]
    else:
        scene = _timeline_scene(study)
    status, notes = step_frame(scene, study.trace, k)
    return to_dot(graph, status, notes, saved=saved, large=large)


_timelines: dict[int, tuple[weakref.ref, Scene]] = {}


def _timeline_scene(study: Study) -> Scene:
    """The study's unfolded timeline, made once per study (the classic view's steps)."""
    assert study.graph is not None and study.trace is not None
    hit = _timelines.get(id(study))
    if hit is not None and hit[0]() is study:
        return hit[1]
    scene = timeline_scene(study.graph, study.trace)
    _timelines[id(study)] = (weakref.ref(study), scene)
    while len(_timelines) > 32:
        _timelines.pop(next(iter(_timelines)))
    return scene


def _folded_note(study: Study, text: str) -> None:
    row = st.container(horizontal=True, vertical_alignment="center")
    row.caption(text)
    if study.graph is not None and len(study.graph.nodes) <= layout.MAX_LAYOUT_NODES:
        row.button("Show all", key="show_all", on_click=_show_all, type="tertiary",
                   help=f"Draw every node (up to {layout.MAX_LAYOUT_NODES:,}); slower to lay out.")


def _show_all() -> None:
    st.session_state.budget = 0


def node_details(study: Study, options: ToggleOptions | None = None) -> None:
    """The node clicked in the graph: what torch holds for it, its step, and (given what
    the toggles can name) the toggles for its tensor, here beside it."""
    node_id = st.session_state.get("selected")
    graph = study.graph
    if not node_id or graph is None or node_id not in graph.by_id:
        return
    node = graph.node(node_id)
    with st.container(border=True, key="node_details"):
        head = st.container(horizontal=True, vertical_alignment="center")
        title = node.tensor.name if node.tensor and node.tensor.name else ""
        head.markdown(f"**Selected:** {code(node.name)}" + (f" — {code(title)}" if title else ""))
        head.button("", icon=":material/close:", key="unselect", type="tertiary",
                    on_click=_select, args=(None,), help="Close the details")
        if node.kind == "none":
            st.markdown(f"- reached as {code(short_path(node.path))}, which is `(None, 0)`: "
                        "this input needs no gradient (a constant, or a tensor without "
                        "`requires_grad`), so nothing flows here.")
            return
        facts = [f"torch's name: {code(node.torch_name)}" if node.torch_name else "",
                 f"reached as {code(short_path(node.path))}"]
        tensor = node.tensor
        if tensor is not None:
            badges = [b for b, on in (("is_leaf", tensor.is_leaf),
                                      ("requires_grad", tensor.requires_grad),
                                      ("retains_grad", tensor.retains_grad)) if on]
            facts.append(f"tensor: shape `{list(tensor.shape)}` · {code(tensor.dtype)} · "
                         + " · ".join(f"`{b}`" for b in badges))
            facts.append(f"value: {code(tensor.value)}")
            if tensor.grad is not None:
                facts.append(f"`.grad`: {code(tensor.grad)}")
            elif tensor.retains_grad and tensor.name in study.retained:
                facts.append(f"`.grad` (kept by `retain_grad()`) after backward: "
                             f"{code(study.retained[tensor.name])}")
        facts += [f"{code(item.attr)} = {code('(freed)' if item.freed else item.value)}"
                  for item in node.saved]
        st.markdown("\n".join(f"- {f}" for f in facts if f))
        if options is not None and tensor is not None and tensor.name:
            _node_toggles(tensor.name, options)
        steps = study.trace.steps if study.trace else []
        ran = next((j for j, step in enumerate(steps, 1) if step.node_id == node_id), None)
        if ran is not None:
            st.button(f"Go to step {ran}", key="goto_selected", on_click=_step_to, args=(ran,),
                      icon=":material/my_location:")
        elif study.trace is not None:
            st.caption("The engine did not run this node in this backward.")


# the toggles a node's tensor can take: (state key, label when off, label when on)
_NODE_TOGGLES = (("detach", ".detach() here", "undo .detach()"),
                 ("retain_grad", "retain_grad()", "undo retain_grad()"),
                 ("frozen", "requires_grad off", "requires_grad on again"))


def _node_toggles(name: str, options: ToggleOptions) -> None:
    """Buttons that toggle this tensor (the same lists the Toggles menu edits)."""
    intermediates, frozen_options, _ = options
    offered = {"detach": name in intermediates, "retain_grad": name in intermediates,
               "frozen": name in frozen_options}
    row = st.container(horizontal=True)
    for key, off, on in _NODE_TOGGLES:
        if offered[key]:
            active = name in st.session_state[key]
            row.button(on if active else off, key=f"node_{key}", on_click=_toggle_name,
                       args=(key, name), type="secondary", icon=":material/tune:")


def _toggle_name(key: str, name: str) -> None:
    held = list(st.session_state[key])
    st.session_state[key] = [n for n in held if n != name] if name in held else held + [name]
    reset_run()


def _select(node_id: str | None) -> None:
    st.session_state.selected = node_id


def _no_graph(study: Study) -> str:
    root = study.root or "The root"
    if study.root_note:  # the program made it under no_grad: say so, with the line
        return f"{code(root)} has no `grad_fn`: {plain(study.root_note)}."
    return (f"{code(root)} has no `grad_fn` and does not require grad: nothing in its history "
            "requires grad, so autograd recorded no graph.")


def retained_section(study: Study) -> None:
    """The intermediates that called ``retain_grad()``, and the ``.grad`` torch kept."""
    if study.retained:
        st.markdown("**Kept by `retain_grad()`**\n" + "\n".join(
            f"- {code(name + '.grad')} = {code(grad)}" for name, grad in study.retained.items()))


def no_gradient_section(study: Study) -> None:
    """Each leaf that wanted a gradient and got none, and why (a detach, no_grad, a flag
    turned off, or not in the root's graph)."""
    if not study.no_gradient:
        return
    lines = [f"- {code(name + '.grad')} is None: {plain(reason)}."
             for name, reason in study.no_gradient]
    st.info("**Not every leaf got a gradient**\n" + "\n".join(lines), icon=":material/help:")


def step_panel(study: Study, k: int, compact: bool = False) -> None:
    """What step ``k`` received, from whom, what it passed on, and the manual call
    (``compact``: projector mode, the essentials only)."""
    trace = study.trace
    assert trace is not None
    n = len(trace.steps)
    if k == 0:
        root = study.root or "the root"
        grad = code(f"gradient={study.gradient_code}") if study.gradient_code else (
            "an implicit gradient of 1")
        start = trace.graph.node(trace.graph.roots[0]).name
        st.markdown(f"#### Step 0 of {n}: before backward\n"
                    f"{code(root + '.backward()')} will start at {code(start)} with {grad}. "
                    "Press **Next ▶** to let torch's engine run one node.")
        # keyboard hints: not on a touch screen (the page's CSS hides this container)
        st.container(key="keys").caption("Keys: → next · ← back · Home / End: first / last "
                                          "step · click a node for its details.")
        return
    step = trace.steps[k - 1]
    node = trace.graph.node(step.node_id)
    title = node.tensor.name if node.tensor and node.tensor.name else ""
    st.markdown(f"#### Step {k} of {n}: {code(node.name)}"
                + (f" — {code(title)}" if title else ""))
    if not compact:
        st.caption(f"torch's name: {code(step.name)} · reached as {code(short_path(step.path))}")
    received = ", ".join(preview(g) for g in step.grad_outputs)
    st.markdown(f"**Received** (`grad_outputs`): {code(received)}")
    rule = study.local_rule(k)
    if rule:  # the node's derivative with this program's numbers
        st.markdown("**Local rule:**\n" + "\n".join(f"- {code(line)}" for line in rule))
    if len(step.fan_in) > 1 or (step.fan_in and step.fan_in[0].from_node is not None
                                and len(step.fan_in) > 1):
        parts = [f"{code(trace.graph.node(c.from_node).name)} ({c.from_node}) sent "
                 f"{code(preview(c.grad))}" if c.from_node else
                 f"backward() gave {code(preview(c.grad))}" for c in step.fan_in]
        st.markdown("Summed by the engine from: " + "; ".join(parts))
    elif step.fan_in:
        c = step.fan_in[0]
        source = "backward()'s gradient" if c.from_node is None else (
            f"{code(trace.graph.node(c.from_node).name)} ({c.from_node}), slot {c.index}")
        st.markdown(f"From: {source}")
    if node.kind == "leaf":
        name = node.tensor.name if node.tensor and node.tensor.name else "the leaf"
        if node.tensor is not None and not node.tensor.requires_grad:
            st.markdown(f"**Keeps nothing**: {code(name)} no longer requires grad, so "
                        f"AccumulateGrad leaves {code(name + '.grad')} as it was "
                        f"({code(str(node.tensor.grad))}).")
        else:
            st.markdown(f"**Accumulates** into {code(name + '.grad')} (AccumulateGrad has no "
                        "`next_functions`).")
    else:
        rows = []
        call = study.manual_call(k)
        notes = call.slot_notes if call is not None else ()
        for index, (dst, grad) in enumerate(zip(step.next_ids, step.grad_inputs)):
            target = trace.graph.node(dst)
            label = "None" if target.kind == "none" else f"{target.name} ({dst})"
            shrink = notes[index] if index < len(notes) else ""  # what the engine changed
            rows.append(f"| [{index}] | {label} | `{preview(grad)}` | {shrink} |")
        st.markdown("**Passes on** (`grad_inputs`), one per `next_functions` entry:\n\n"
                    "| slot | to | gradient | note |\n|---|---|---|---|\n" + "\n".join(rows))
    call = study.manual_call(k)
    if compact and call is not None and len(call.code) > 160:
        return
    if call is not None:
        st.markdown("**The same step by hand:**")
        st.code(call.code + ("\n# returns\n" + call.result if call.called else
                             f"\n# {call.result}"), language="python", wrap_lines=True)
        if call.note:
            st.caption(plain(call.note[0].upper() + call.note[1:]) + ".")


_tables: dict[int, tuple[weakref.ref, list]] = {}


def _study_tables(study: Study) -> list[tuple[str, pd.DataFrame | None, pa.Table | None]]:
    """The four tables depend on the study only, not on the step: built once per study
    (with their Arrow form, which is what the page sends)."""
    hit = _tables.get(id(study))
    if hit is not None and hit[0]() is study:
        return hit[1]
    tables = [(name, None if table is None else
               pd.DataFrame(list(table.rows), columns=list(table.columns)))
              for name, table in ((n, study.tables.get(n)) for n in TABLES)]
    frames = [(name, table, None if table is None else
               pa.Table.from_pandas(table, preserve_index=False)) for name, table in tables]
    _tables[id(study)] = (weakref.ref(study), frames)
    while len(_tables) > 32:
        _tables.pop(next(iter(_tables)))
    return frames


def study_table(study: Study, name: str) -> pd.DataFrame | None:
    """One of the study's tables ("tensors", "nodes", "steps", "leaf_grads"), as built
    once for it."""
    return next(table for key, table, _ in _study_tables(study) if key == name)


TABLES = {"tensors": "Tensors", "nodes": "Nodes", "steps": "Steps",
          "leaf_grads": "Leaf gradients"}


def tables_section(study: Study) -> None:
    """Tensors, nodes, steps or leaf grads (one at a time: each costs a page its rows on
    every rerun), downloadable as CSV."""
    st.markdown("#### Tables")
    pick = st.segmented_control("Table", list(TABLES), format_func=TABLES.__getitem__,
                                key="table", default="tensors", label_visibility="collapsed")
    for name, table, arrow in _study_tables(study):
        if name != pick:
            continue
        if table is None:
            st.caption("Nothing to show yet.")
            continue
        st.dataframe(arrow, hide_index=True, width="stretch")
        st.download_button(f"Download {name}.csv", partial(table.to_csv, index=False),
                           file_name=f"{name}.csv", mime="text/csv", key=f"csv_{name}",
                           on_click="ignore")


def _add_action(action: str) -> None:
    st.session_state.actions = (*st.session_state.actions, action)


def accumulation_section(study: Study) -> None:
    """Backward again (accumulates, or torch's error without retain_graph); zero_()."""
    if study.trace is None or not study.ran:
        return
    row = st.container(horizontal=True)
    row.button("Backward again", on_click=_add_action, args=(BACKWARD,), key="again")
    row.button(".grad.zero_()", on_click=_add_action, args=(ZERO,), key="zero")
    row.button("Clear", on_click=reset_run, key="clear_actions", disabled=not study.passes)
    lines = [f"# after the recorded backward: {_grads(study.first_grads)}"]
    for p in study.passes:
        lines.append(p.code)
        lines.append(f"# {p.error}" if p.error else f"#   -> {_grads(p.grads)}")
    st.code("\n".join(lines), language="python", wrap_lines=True)
    for p in study.passes:
        if p.error:
            error_box("torch refused the second backward", p.error)


def _grads(grads: dict[str, str]) -> str:
    return ", ".join(f"{n}.grad = {g}" for n, g in grads.items()) or "(no leaves)"


def comparison_section(before: Study, after: Study, result: Comparison) -> None:
    """Before / after a toggle, side by side."""
    st.subheader("Before / after the toggles")
    cols = st.columns(2)
    for col, study, title in ((cols[0], before, "Before"), (cols[1], after, "After")):
        with col:
            st.markdown(f"**{title}**")
            if study.graph is not None and study.graph.nodes:
                st.graphviz_chart(to_dot(study.graph, saved=False), width="stretch")
            elif study.graph is not None:
                st.info(_no_graph(study), icon="ℹ️")
            elif study.error is not None:
                error_box("The program fails", str(study.error))
            elif study.backward_error:
                error_box("No graph", study.backward_error)
    facts = []
    if result.vanished:
        facts.append("Nodes gone: " + ", ".join(map(code, result.vanished)))
    if result.appeared:
        facts.append("Nodes new: " + ", ".join(map(code, result.appeared)))
    if result.lost_grad:
        facts.append("Leaves that now get `None`: " + ", ".join(map(code, result.lost_grad)))
    facts.append(f"Root value: {code(str(result.root_before))} → "
                 f"{code(str(result.root_after))}")
    st.markdown("\n".join(f"- {f}" for f in facts))
    if result.grads:

        st.dataframe(pd.DataFrame(result.grads, columns=["leaf", "grad before", "grad after"]),
                     hide_index=True)


def export_section(study: Study, dot: Callable[[], str] | None) -> None:
    """Downloads: the graph (DOT, SVG, PNG), the steps (CSV), the program (.py)."""
    row = st.container(horizontal=True)
    if dot is not None:
        session = session_id()
        row.download_button("graph.svg", lambda: _export(dot(), "svg", session),
                            file_name="graph.svg",
                            mime="image/svg+xml", key="export_svg", on_click="ignore",
                            icon=":material/download:")
        row.download_button("graph.png", lambda: _export(dot(), "png", session),
                            file_name="graph.png",
                            mime="image/png", key="export_png", on_click="ignore",
                            icon=":material/download:")
        row.download_button("graph.dot", dot, file_name="graph.dot", mime="text/vnd.graphviz",
                            key="export_dot", on_click="ignore", icon=":material/download:")
    if study.trace is not None:
        steps = study_table(study, "steps")
        row.download_button("steps.csv", partial(steps.to_csv, index=False),
                            file_name="steps.csv", mime="text/csv", key="export_steps",
                            on_click="ignore", icon=":material/download:")
    row.download_button("program.py", study.program_file, file_name="program.py",
                        mime="text/x-python", key="export_py", on_click="ignore",
                        icon=":material/download:")


@functools.lru_cache(maxsize=8)  # thread-safe; Streamlit calls it from its download threads
def _rendered(dot: str, fmt: str, session: str | None) -> bytes:
    return worker.render(dot, fmt, session)


def _export(dot: str, fmt: str, session: str | None) -> bytes:
    """The graph laid out as a file, in a worker (this session's turn). A failure raises:
    Streamlit then says the file could not be made, rather than handing over its text."""
    return _rendered(dot, fmt, session)


def share_section(link: str) -> None:
    """The link that reopens exactly this view (copy it with the code block's button)."""
    st.code(link, language=None, wrap_lines=True)
    st.caption("For slides add `&slide=1&embed=true`: the graph, the stepper and the step "
               "only, without Streamlit's chrome; `&projector=1` opens it in projector mode.")
