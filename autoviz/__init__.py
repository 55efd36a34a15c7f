"""autoviz: watch PyTorch's autograd work, node by node.

A pure library (no Streamlit): run a PyTorch snippet safely, walk its autograd graph into
plain data, record the real backward pass, and draw it.

The names below are imported on first use, so the page's server can use the torch-free
modules (plain data, drawing, the worker pool) without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "BackwardTrace": "autoviz.data", "Contribution": "autoviz.data", "Step": "autoviz.data",
    "Graph": "autoviz.data", "GraphEdge": "autoviz.data", "GraphNode": "autoviz.data",
    "TensorInfo": "autoviz.data", "ProgramError": "autoviz.runner.errors",
    "Limits": "autoviz.runner.limits", "record_backward": "autoviz.autograd.backward",
    "extract_graph": "autoviz.autograd.graph", "Program": "autoviz.runner.program",
    "run_program": "autoviz.runner.program", "draw": "autoviz.drawing.render",
    "to_dot": "autoviz.drawing.render",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'autoviz' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
