"""autoviz: the Streamlit page. Wiring only: read widgets -> call the core -> draw."""

from __future__ import annotations

import streamlit as st

from autoviz import extract_graph, run_program, to_dot

DEFAULT = """import torch

a = torch.tensor([3.], requires_grad=True)
O = 5*a**2
"""


def run() -> None:
    st.set_page_config(page_title="autoviz", layout="wide")
    st.title("autoviz")
    program = run_program(DEFAULT)
    root = program.namespace["O"]
    st.graphviz_chart(to_dot(extract_graph(root, catalog=program.catalog)))


if __name__ == "__main__":
    run()
