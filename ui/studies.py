"""The studies the page shows: made in a worker, kept for every session (plain data).

The cache is bounded by what it holds, not by how many: one Study of a 10,000-node chain
weighs what 2,500 of the landing program do, and a fixed count of entries would let a few
big programs hold gigabytes. A program asked for by several sessions at once is run once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from autoviz import worker
from autoviz.lesson.numeric import NumericCheck
from autoviz.lesson.study import Study
from autoviz.runner.errors import ProgramError
from ui.state import session_id

Key = tuple[str, str | None, str, bool, tuple[str, ...], int]
# ~20 Long chain presets (each ~26 MB in memory, weight ~15,000): the most the server keeps.
BUDGET = 300_000

_kept: OrderedDict[Key, tuple[Study, int]] = OrderedDict()
_running: dict[Key, threading.Lock] = {}
_lock = threading.Lock()


def weight(study: Study) -> int:
    """What a Study costs to keep, in units of about one graph node or step (~1.7 kB)."""
    nodes = len(study.graph.nodes) if study.graph is not None else 0
    steps = len(study.trace.steps) if study.trace is not None else 0
    return 1 + nodes + steps


def _lookup(key: Key) -> Study | None:
    with _lock:
        hit = _kept.get(key)
        if hit is None:
            return None
        _kept.move_to_end(key)
        return hit[0]


def _keep(key: Key, study: Study) -> None:
    with _lock:
        _kept[key] = (study, weight(study))
        total = sum(w for _, w in _kept.values())
        while total > BUDGET and len(_kept) > 1:
            _, (_, dropped) = _kept.popitem(last=False)
            total -= dropped


def _make(key: Key, wait: bool) -> Study:
    """Made in a worker process: a program its worker had to stop, or that crashed it,
    gives a Study holding that error (kept like any other); a busy server, or a failure
    that says nothing about the program, raises, and nothing is kept."""
    source, root, gradient, retain, actions, which = key
    try:
        return worker.study(source, root, gradient or None, retain, actions, session_id(),
                            wait, which)
    except worker.JobFailed as exc:
        if exc.transient:
            raise
        return Study(source, error=ProgramError(exc.message, exc.lineno, refused=False))


def cached_study(source: str, root: str | None, gradient: str, retain: bool,
                 actions: tuple[str, ...], wait: bool = True, which: int = 0) -> Study:
    """The study for these choices, derived from the state, never stored in it; raises
    :class:`autoviz.worker.JobFailed` when the server cannot make it now (``wait=False``:
    at once, if no worker is free). ``which``: the program's own backward call to step
    through (1, 2…; 0: its last)."""
    key: Key = (source, root, gradient, retain, actions, which)
    found = _lookup(key)
    if found is not None:
        return found
    with _lock:
        running = _running.setdefault(key, threading.Lock())
    with running:  # another session making the same study: wait for it, then take it
        found = _lookup(key)
        if found is not None:
            return found
        try:
            study = _make(key, wait)
        finally:
            with _lock:
                _running.pop(key, None)
        _keep(key, study)
        return study


def clear() -> None:
    """Forget every kept study and check (the next run of each program makes it again)."""
    with _lock:
        _kept.clear()
        _numeric.clear()


NumericKey = tuple[str, str | None, str | None]
NUMERIC_KEPT = 256  # finite-difference checks kept (each a few kB: 64 numbers, the notes)
_numeric: OrderedDict[NumericKey, NumericCheck] = OrderedDict()
_numeric_running: dict[NumericKey, threading.Lock] = {}


def cached_numeric(source: str, root: str | None, gradient: str | None) -> NumericCheck:
    """The finite-difference check of this program, root and gradient, made once in a
    worker (:func:`autoviz.lesson.numeric.finite_differences`) and kept for every session;
    a check its worker had to stop gives a NumericCheck holding that error. Raises
    :class:`autoviz.worker.JobFailed` when the server cannot run it now (busy)."""
    key: NumericKey = (source, root, gradient or None)
    with _lock:
        found = _numeric.get(key)
        if found is not None:
            _numeric.move_to_end(key)
            return found
        running = _numeric_running.setdefault(key, threading.Lock())
    with running:  # another session checking the same program: wait for it, then take it
        with _lock:
            found = _numeric.get(key)
        if found is not None:
            return found
        try:
            check = worker.numeric(source, root, gradient or None, session_id())
        except worker.JobFailed as exc:
            if exc.transient:
                raise
            check = NumericCheck(source, root, gradient or None, error=exc.message)
        finally:
            with _lock:
                _numeric_running.pop(key, None)
        with _lock:
            _numeric[key] = check
            while len(_numeric) > NUMERIC_KEPT:
                _numeric.popitem(last=False)
        return check
