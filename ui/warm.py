"""Server start: everything the first visitor would otherwise pay for, done before the
server answers (Streamlit's ``st.App`` lifespan, see app.py)."""

from __future__ import annotations

import gc
import logging

from autoviz import worker
from autoviz.drawing import layout
from autoviz.drawing.collapse import DEFAULT_BUDGET
from autoviz.drawing.scene import make_scene
from autoviz.lesson.presets import DEFAULT, PRESETS

_LOG = logging.getLogger(__name__)


def warm_up() -> None:
    """Start the workers' warm parent, import the page's modules, and make the landing
    program's study and layout (both cached for every session). A failure is logged: the
    first visitor then pays for it instead, and sees any error on the page."""
    try:
        worker.pool().warm()
        import page  # noqa: F401 - the page's imports (pandas, pyarrow, the sections)
        from ui.studies import cached_study

        preset = PRESETS[DEFAULT]
        study = cached_study(preset.code, None, "", True, ())  # the state's defaults
        if study.graph is not None and study.graph.nodes and layout.available():
            scene = make_scene(study.graph, study.trace, DEFAULT_BUDGET, frozenset(),
                               saved=False, large=False)
            layout.layout_svg(scene.dot)
    except Exception:  # noqa: BLE001 - warming is an optimisation; the page reports errors
        _LOG.exception("warming up failed")
    # A full collection's cost grows with every object in the process (Python's own, as
    # sessions allocate; Streamlit's after each rerun where runner.postScriptGC is on):
    # what exists now (Streamlit, pandas, pyarrow, the page's modules) lives as long as
    # the server, so it is moved out of the collector's sight; what reruns make is still
    # collected.
    gc.collect()
    gc.freeze()
