"""The studies the page shows: made in a worker, cached for every session (plain data)."""

from __future__ import annotations

import streamlit as st

from autoviz import worker
from autoviz.lesson.study import Study
from autoviz.runner.errors import ProgramError
from ui.state import session_id


@st.cache_resource(max_entries=64, show_spinner=False)
def _study(source: str, root: str | None, gradient: str, retain: bool,
           actions: tuple[str, ...], _session: str | None) -> Study:
    """Derived from the state, never stored in it; shared only as read-only data. Made
    in a worker process: a worker that was stopped or crashed gives a Study holding that
    error (cached like any other); a busy server raises, and nothing is cached."""
    try:
        return worker.study(source, root, gradient or None, retain, actions, _session)
    except worker.JobFailed as exc:
        if exc.busy:
            raise
        return Study(source, error=ProgramError(exc.message, exc.lineno, refused=False))


def cached_study(source: str, root: str | None, gradient: str, retain: bool,
                 actions: tuple[str, ...]) -> Study:
    """The study for these choices (see :func:`_study`); raises
    :class:`autoviz.worker.JobFailed` when the server is too busy to make it now."""
    return _study(source, root, gradient, retain, actions, session_id())
