"""Resource caps for one program run, all checked before the work is done."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Caps for :func:`autoviz.run_program`. The defaults suit a public demo."""

    source_chars: int = 20_000
    ast_nodes: int = 6_000
    ast_depth: int = 60
    statements_executed: int = 200_000
    call_depth: int = 16
    int_bits: int = 64
    container_items: int = 100_000  # one list (a string counts one per 8 characters)
    python_items: int = 5_000_000  # characters and list items the program makes, in all
    tensor_bytes: int = 40_000_000  # 10 million float32 numbers
    tensor_objects: int = 500_000  # tensors made in all, views included (~0.5 KB each)
    total_bytes: int = 240_000_000  # every tensor the program makes, and its gradients
    op_flops: float = 2e9
    total_flops: float = 2e10
    graph_nodes: int = 100_000
    # torch frees a deep graph recursively once Python has touched its nodes; past ~30k
    # levels that overflows the C stack (a segfault), so depth is capped well below.
    graph_depth: int = 10_000
    output_chars: int = 100_000
    hand_calls: int = 2_000  # steps of a backward whose node is also called by hand
    seconds: float = 10.0
    torch_threads: int = 1
    # A worker process (autoviz.worker), around the caps above: address space beyond what
    # the warm parent has mapped, and wall-clock bounds enforced with SIGKILL.
    memory_bytes: int = 2 * 2**30
    job_seconds: float = 20.0  # a program's run, its backward and what the page reads off
    layout_seconds: float = 15.0
