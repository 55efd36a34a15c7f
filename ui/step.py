"""The step panel: what step k received, its local rule, what it passed on, the same step
by hand; the selected node's details; after backward, who kept a gradient and who got
none."""

from __future__ import annotations

import streamlit as st

from autoviz.data import BackwardTrace, short_path
from autoviz.data import text as preview
from autoviz.lesson.study import Study
from ui.stepper import step_to
from ui.text import code, plain
from ui.toggles import ToggleOptions, node_toggles


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
    hooks_section(trace, k)
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


def node_details(study: Study, node_id: str | None,
                 options: ToggleOptions | None = None) -> None:
    """Node ``node_id`` (clicked in the graph): what torch holds for it, its step, and
    (given what the toggles can name) the toggles for its tensor, here beside it."""
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
            node_toggles(tensor.name, options)
        steps = study.trace.steps if study.trace else []
        ran = next((j for j, step in enumerate(steps, 1) if step.node_id == node_id), None)
        if ran is not None:
            st.button(f"Go to step {ran}", key="goto_selected", on_click=step_to, args=(ran,),
                      icon=":material/my_location:")
        elif study.trace is not None:
            st.caption("The engine did not run this node in this backward.")


def _select(node_id: str | None) -> None:
    st.session_state.selected = node_id


def retained_section(study: Study) -> None:
    """The intermediates that called ``retain_grad()``, and the ``.grad`` torch kept."""
    if study.retained:
        st.markdown("**Kept by `retain_grad()`**\n" + "\n".join(
            f"- {code(name + '.grad')} = {code(grad)}" for name, grad in study.retained.items()))


def hooks_section(trace: BackwardTrace, k: int) -> None:
    """The program's hooks that the engine ran at step ``k``, and what they did."""
    for fire in trace.hooks:
        if fire.step == k:
            changed = fire.returned != "None"
            text = plain(fire.describe()[0].upper() + fire.describe()[1:])
            (st.warning if changed else st.info)(
                f"**Hook** — {text}." + (" The steps that follow use what it returned."
                                         if changed else ""), icon=":material/phishing:")


def gradient_notes_section(study: Study) -> None:
    """Gradients the program took with create_graph=True that have no graph (constants)."""
    for name, why in study.gradient_notes:
        st.info(f"**{code(name)} has no `grad_fn`** — {plain(why)}.", icon=":material/help:")


def no_gradient_section(study: Study) -> None:
    """Each leaf that wanted a gradient and got none, and why (a detach, no_grad, a flag
    turned off, or not in the root's graph)."""
    if not study.no_gradient:
        return
    lines = [f"- {code(name + '.grad')} is None: {plain(reason)}."
             for name, reason in study.no_gradient]
    st.info("**Not every leaf got a gradient**\n" + "\n".join(lines), icon=":material/help:")
