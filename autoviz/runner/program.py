"""Safe runner for a subset of PyTorch Python: parse -> check -> interpret.

User text is never handed to ``eval``/``exec``/``compile``. :func:`run_program` parses
it with :mod:`ast`, refuses anything outside the allowlist before running a single
statement (:mod:`autoviz.runner.checks`), then walks the tree itself (:mod:`autoviz.runner.interp`),
checking every torch call's cost before the call is made (:mod:`autoviz.runner.costs`).
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field
from typing import Any

from autoviz.autograd.backward import BackwardTrace
from autoviz.autograd.catalog import Catalog
from autoviz.runner.checks import check_tree
from autoviz.runner.errors import ProgramError
from autoviz.runner.interp import Interpreter, Rerun
from autoviz.runner.limits import Limits

_DEFAULT_LIMITS = Limits()


@dataclass
class Program:
    """What a run left behind.

    ``namespace``: the variables after the run (tensors, numbers, lists...).
    ``output``: what ``print`` printed. ``traces``: one :class:`BackwardTrace` per
    ``.backward()`` call, in order. ``catalog``: names and origins of tensors, for graph
    labels. ``warnings``: ``(lineno, "UserWarning: ...")`` for each warning torch raised.
    ``assigned``: names of top-level tensor assignments, in the order they ran.
    """

    source: str
    namespace: dict[str, Any] = field(default_factory=dict)
    output: str = ""
    traces: list[BackwardTrace] = field(default_factory=list)
    # per trace: (the line of its backward() call, the root's value then if one number)
    calls: list[tuple[int | None, float | None]] = field(default_factory=list)
    handles: list[Any] = field(default_factory=list)  # the hooks the program registered
    catalog: Catalog = field(default_factory=Catalog)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    assigned: list[str] = field(default_factory=list)  # top-level tensor names, in order

    def tensors(self) -> dict[str, Any]:
        """The namespace's tensors, by name, in assignment order."""
        import torch

        return {k: v for k, v in self.namespace.items() if isinstance(v, torch.Tensor)}

    def name_of(self, tensor: Any) -> str | None:
        """The last name the program gave this tensor, if any."""
        return self.catalog.name_of(tensor)


@functools.lru_cache(maxsize=256)
def _parse(source: str, limits: Limits) -> ast.Module:
    if len(source) > limits.source_chars:
        raise ProgramError(f"the program is {len(source):,} characters long; the limit is "
                           f"{limits.source_chars:,}")
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as exc:
        raise ProgramError(f"SyntaxError: {exc.msg}", exc.lineno, refused=False,
                           error_type="SyntaxError") from None
    except (RecursionError, MemoryError) as exc:
        raise ProgramError(f"the program is nested too deeply to read ({type(exc).__name__})"
                           ) from None
    except ValueError as exc:  # e.g. a null byte in the source
        raise ProgramError(f"the program cannot be read: {exc}") from None
    check_tree(tree, limits)
    return tree


def run_program(source: str, limits: Limits | None = None, *, where: Any = None,
                rerun: Rerun | None = None) -> Program:
    """Run ``source`` (a small PyTorch program) safely and return what it left behind.

    Raises :class:`ProgramError` (with ``.lineno``) when the program is refused or fails;
    nothing else escapes. ``where``: an object whose ``.value`` gets the line about to run
    before each statement (a shared value, so that whoever watches this process knows the
    line it was on should it die in torch). ``rerun``: a run that must draw the same
    random numbers as the last, and whose new leaves are shown to a hook (see
    :class:`~autoviz.runner.interp.Rerun`).
    """
    limits = limits or _DEFAULT_LIMITS
    if not isinstance(source, str):
        raise ProgramError("the program must be text")
    tree = _parse(source, limits)
    program = Program(source=source)
    try:
        Interpreter(program, limits, where, rerun).run(tree)
    except ProgramError:
        raise
    except RecursionError:
        raise ProgramError("the program nests too deeply") from None
    except MemoryError:
        raise ProgramError("the program ran out of memory") from None
    except Exception as exc:  # an interpreter bug must still not escape as anything else
        raise ProgramError(f"{type(exc).__name__}: {exc}", refused=False,
                           error_type=type(exc).__name__) from None
    return program
