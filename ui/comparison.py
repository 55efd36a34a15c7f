"""Before / after the toggles, side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from autoviz.drawing.render import to_dot
from autoviz.lesson.study import Comparison, Study
from ui.graph import no_graph
from ui.text import code, error_box


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
                st.info(no_graph(study), icon="ℹ️")
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
