"""Toggles as visible program rewrites: no_grad, .detach(), requires_grad, retain_grad().

Each toggle changes the program text, so the user sees the code that produces the new
graph, and the graph is still just "run this program".
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from autoviz.runner.checks import source_lines

INDENT = "    "


@dataclass(frozen=True)
class Toggles:
    """What the user switched. ``no_grad``: "off", "all" or a 1-based line number."""

    no_grad: str | int = "off"
    detach: tuple[str, ...] = ()
    frozen: tuple[str, ...] = ()
    retain: tuple[str, ...] = ()

    def active(self) -> bool:
        return self.no_grad != "off" or bool(self.detach or self.frozen or self.retain)

    def count(self) -> int:
        """How many toggles are on (no_grad counts one)."""
        return (self.no_grad != "off") + len(self.detach) + len(self.frozen) + len(self.retain)


def _last_assignment(tree: ast.Module, name: str) -> ast.stmt | None:
    found = None
    for stmt in tree.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else (
            [stmt.target] if isinstance(stmt, ast.AnnAssign | ast.AugAssign) else [])
        for target in targets:
            names = [target] if isinstance(target, ast.Name) else (
                target.elts if isinstance(target, ast.Tuple | ast.List) else [])
            if any(isinstance(n, ast.Name) and n.id == name for n in names):
                found = stmt
    return found


def _requires_grad_keyword(stmt: ast.stmt) -> ast.keyword | None:
    value = getattr(stmt, "value", None)
    if isinstance(value, ast.Call):
        for kw in value.keywords:
            if kw.arg == "requires_grad" and kw.value.lineno == kw.value.end_lineno:
                return kw
    return None


# What ast.parse raises on text it cannot read: bad syntax, a null byte, nesting deeper
# than the parser's stack (these run on the server, on any program a link carries).
UNREADABLE = (SyntaxError, ValueError, RecursionError, MemoryError)


def apply_toggles(source: str, toggles: Toggles) -> tuple[str, list[str]]:
    """``source`` rewritten for ``toggles``, and notes on toggles that did not apply."""
    try:
        tree = ast.parse(source)
    except UNREADABLE:
        return source, ["the program does not parse, so the toggles are not applied"]
    lines = source_lines(source)
    notes: list[str] = []
    inserts: list[tuple[int, str]] = []  # (after this 1-based line, text)
    # each toggle: (names, what the note calls it, the line that goes after the assignment)
    rules = (
        (toggles.frozen, "requires_grad", "{0}.requires_grad_(False)  # autoviz: frozen"),
        (toggles.detach, "detach", "{0} = {0}.detach()  # autoviz: cut the graph here"),
        (toggles.retain, "retain_grad", "{0}.retain_grad()"),
    )
    for names, label, template in rules:
        for name in names:
            stmt = _last_assignment(tree, name)
            if stmt is None:
                notes.append(f"{label}: no top-level assignment to {name!r}")
                continue
            kw = _requires_grad_keyword(stmt) if label == "requires_grad" else None
            if kw is not None:  # frozen: flip requires_grad=True where the leaf is made
                row = kw.value.lineno - 1
                line = lines[row].encode()
                lines[row] = (line[:kw.value.col_offset] + b"False"
                              + line[kw.value.end_col_offset:]).decode()
            else:
                inserts.append((stmt.end_lineno or stmt.lineno, template.format(name)))
    for after, text in sorted(inserts, key=lambda item: -item[0]):
        lines.insert(after, text)
    text = "\n".join(lines) + "\n"
    if toggles.no_grad == "off":
        return text, notes
    where = toggles.no_grad
    if where != "all":  # the user picked a line of their program: follow it past inserts
        where = int(where) + sum(1 for after, _ in inserts if after < int(where))
    return _wrap_no_grad(text, where, notes), notes


def _wrap_no_grad(source: str, where: str | int, notes: list[str]) -> str:
    tree = ast.parse(source)
    body = [s for s in tree.body if not isinstance(s, ast.Import | ast.ImportFrom)]
    if where != "all":
        line = int(where)
        body = [s for s in body if s.lineno <= line <= (s.end_lineno or s.lineno)]
        if not body:
            notes.append(f"no_grad: line {line} is not a statement of the program")
            return source
    if not body:
        return source
    first, last = body[0].lineno, body[-1].end_lineno or body[-1].lineno
    lines = source_lines(source)
    wrapped = [INDENT + line if line.strip() else line for line in lines[first - 1:last]]
    lines[first - 1:last] = ["with torch.no_grad():  # autoviz: no_grad", *wrapped]
    return "\n".join(lines) + "\n"


def statement_lines(source: str) -> list[tuple[int, str]]:
    """Top-level statements (not imports) as (line, text), for a "no_grad around" picker."""
    try:
        tree = ast.parse(source)
    except UNREADABLE:
        return []
    lines = source_lines(source)
    return [(s.lineno, lines[s.lineno - 1].strip()) for s in tree.body
            if not isinstance(s, ast.Import | ast.ImportFrom)]
