"""Exports: the program as a plain-Python file (the graph's SVG/PNG are laid out in a
worker: :func:`autoviz.drawing.layout.render`)."""

from __future__ import annotations

from autoviz.data import BackwardTrace


def program_file(source: str, root: str | None, gradient_code: str | None,
                 trace: BackwardTrace | None, called_backward: bool) -> str:
    """The program as drawn, plus the backward autoviz ran (unless the program ran its
    own, ``called_backward``), as a file plain Python runs."""
    lines = [
        "# Exported from autoviz: runs as is with `python this_file.py` (needs torch).",
        source.rstrip("\n"),
    ]
    if not called_backward and root and trace:
        gradient = f"gradient={gradient_code}, " if gradient_code else ""
        leaves = [n.tensor.name for n in trace.graph.leaves()
                  if n.tensor is not None and n.tensor.name]
        lines += ["", "# what autoviz ran on the program: backward from the root",
                  f"{root}.backward({gradient}retain_graph={trace.retain_graph})"]
        lines += [f"print('{name}.grad =', {name}.grad)" for name in leaves]
    return "\n".join(lines) + "\n"
