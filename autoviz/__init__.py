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
    "TensorInfo": "autoviz.data", "ProgramError": "autoviz.errors",
    "Limits": "autoviz.limits", "record_backward": "autoviz.backward",
    "extract_graph": "autoviz.graph", "Program": "autoviz.program",
    "run_program": "autoviz.program", "draw": "autoviz.render", "to_dot": "autoviz.render",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'autoviz' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
