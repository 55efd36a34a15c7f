"""Exports: the graph as DOT/SVG/PNG, the program as a plain-Python file."""

from __future__ import annotations

import functools

from autoviz.study import Study


@functools.lru_cache(maxsize=32)
def render(dot: str, fmt: str) -> bytes:
    """Lay out ``dot`` with Graphviz (bundled in the pygraphviz wheel) as "svg" or "png"."""
    import pygraphviz

    if fmt not in ("svg", "png"):
        raise ValueError(f"unknown format {fmt!r}")
    return pygraphviz.AGraph(string=dot).draw(format=fmt, prog="dot")


def program_file(study: Study) -> str:
    """The program as drawn, plus the backward autoviz ran, as a file plain Python runs."""
    lines = [
        "# Exported from autoviz: runs as is with `python this_file.py` (needs torch).",
        study.source.rstrip("\n"),
    ]
    program = study.program
    if program is not None and not program.traces and study.root and study.trace:
        gradient = f"gradient={study.gradient_code}, " if study.gradient_code else ""
        leaves = [n.tensor.name for n in study.trace.graph.leaves()
                  if n.tensor is not None and n.tensor.name]
        lines += ["", "# what autoviz ran on the program: backward from the root",
                  f"{study.root}.backward({gradient}retain_graph={study.trace.retain_graph})"]
        lines += [f"print('{name}.grad =', {name}.grad)" for name in leaves]
    return "\n".join(lines) + "\n"
