"""autoviz: watch PyTorch's autograd work, node by node.

A pure library (no Streamlit): run a PyTorch snippet safely, walk its autograd graph into
plain data, record the real backward pass, and draw it.
"""

from autoviz.backward import BackwardTrace, Contribution, Step, record_backward
from autoviz.errors import ProgramError
from autoviz.graph import Graph, GraphEdge, GraphNode, TensorInfo, extract_graph
from autoviz.limits import Limits
from autoviz.program import Program, run_program
from autoviz.render import draw, to_dot

__all__ = [
    "BackwardTrace", "Contribution", "Graph", "GraphEdge", "GraphNode", "Limits", "Program",
    "ProgramError", "Step", "TensorInfo", "draw", "extract_graph", "record_backward",
    "run_program", "to_dot",
]
