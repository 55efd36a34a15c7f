"""Exports: the program as a plain-Python file (the graph's SVG/PNG are laid out in a
worker: :func:`autoviz.drawing.layout.render`)."""

from __future__ import annotations

import ast
import keyword

from autoviz.data import BackwardTrace

HEADER = ("# Exported from autoviz: runs as is with `python this_file.py` (needs torch).\n"
          "# Written back from the program as autoviz parsed and ran it (comments are not "
          "kept).\n")


def _name(name: str) -> ast.Name | None:
    if not name.isidentifier() or keyword.iskeyword(name):
        return None
    return ast.Name(name, ast.Load())


def program_file(source: str, root: str | None, gradient_code: str | None,
                 trace: BackwardTrace | None, called_backward: bool) -> str:
    """The program as drawn, plus the backward autoviz ran (unless the program ran its
    own, ``called_backward``), as a file plain Python runs.

    Every line is written back from a parse (``ast.unparse``): the program's statements
    exactly as the runner parsed them, the gradient as the one expression it ran, and the
    added lines as syntax trees, so the file can hold nothing the runner did not accept
    (no source text is pasted, so no ``\\r``, coding cookie or ``;`` can mean something
    else once the text is a file). Empty for a program that cannot be read back."""
    try:
        text = ast.unparse(ast.parse(source, mode="exec"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ""
    body: list[ast.stmt] = []
    target = _name(root) if root else None
    if not called_backward and target is not None and trace:
        keywords = []
        if gradient_code:
            keywords.append(ast.keyword("gradient", ast.parse(gradient_code, mode="eval").body))
        keywords.append(ast.keyword("retain_graph", ast.Constant(bool(trace.retain_graph))))
        body.append(ast.Expr(ast.Call(ast.Attribute(target, "backward", ast.Load()), [],
                                      keywords)))
        for node in trace.graph.leaves():
            leaf = _name(node.tensor.name) if node.tensor and node.tensor.name else None
            if leaf is not None:
                body.append(ast.Expr(ast.Call(
                    ast.Name("print", ast.Load()),
                    [ast.Constant(f"{leaf.id}.grad ="), ast.Attribute(leaf, "grad", ast.Load())],
                    [])))
    if body:
        text += ("\n\n# what autoviz ran on the program: backward from the root\n"
                 + ast.unparse(ast.fix_missing_locations(ast.Module(body, []))))
    return HEADER + text + "\n"
