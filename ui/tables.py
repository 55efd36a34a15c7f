"""The tables of a study: tensors, nodes, steps and leaf gradients, downloadable as CSV."""

from __future__ import annotations

import weakref
from functools import partial

import pandas as pd
import pyarrow as pa
import streamlit as st

from autoviz.lesson.study import Study

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
