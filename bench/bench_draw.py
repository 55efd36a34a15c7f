"""Benchmark: autoviz.draw vs torchviz.make_dot on the same autograd graphs.

Run from the repository root::

    python bench/bench_draw.py            # full run
    python bench/bench_draw.py --quick    # fewer repeats, smaller chain

Both libraries run in this one process on the very same graph objects. Times are the
median of several repeats after one warm-up call (``time.perf_counter``), in milliseconds.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import autoviz  # noqa: E402

with warnings.catch_warnings():
    # torchviz 0.0.3 imports distutils.version, which warns on Python 3.11
    warnings.simplefilter("ignore")
    import torchviz  # noqa: E402


def count_nodes(root: torch.Tensor) -> int:
    """Distinct autograd nodes reachable from ``root.grad_fn`` via ``next_functions``."""
    seen: set[Any] = set()
    stack = [root.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(child for child, _ in node.next_functions)
    return len(seen)


def build_mlp(depth: int, width: int = 8, batch: int = 4) -> tuple[torch.Tensor, dict]:
    """``depth`` Linear+ReLU layers and a cross-entropy loss: 5 nodes per layer + 2."""
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(batch, width, generator=gen)
    params: dict[str, torch.Tensor] = {}
    for i in range(depth):
        w = torch.randn(width, width, generator=gen, requires_grad=True)
        b = torch.zeros(width, requires_grad=True)
        params[f"W{i}"], params[f"b{i}"] = w, b
        h = F.relu(F.linear(h, w, b))
    loss = F.cross_entropy(h, torch.zeros(batch, dtype=torch.long))
    return loss, params


def build_chain(length: int) -> tuple[torch.Tensor, dict]:
    """``x = x * 1.0001`` repeated ``length`` times on a leaf, built natively in torch."""
    x0 = torch.ones(3, requires_grad=True)
    x = x0
    for _ in range(length):
        x = x * 1.0001
    return x, {"x0": x0}


def time_ms(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> tuple[float, float]:
    """(median, min) wall time of ``fn`` in ms after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def try_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> tuple[float | None, str]:
    """Like :func:`time_ms` but an exception becomes a note instead of a crash."""
    try:
        med, _ = time_ms(fn, repeats, warmup)
    except RecursionError as exc:
        return None, f"RecursionError ({str(exc)[:40]}...)"
    except Exception as exc:  # noqa: BLE001 - the benchmark reports, never hides
        return None, f"{type(exc).__name__}: {str(exc)[:60]}"
    return med, ""


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w)
                    in enumerate(zip(header, widths))))
    print(line)
    for row in rows:
        print("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w)
                        in enumerate(zip(row, widths))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed repeats per MLP case")
    parser.add_argument("--chain-repeats", type=int, default=3,
                        help="timed repeats for the long chain")
    parser.add_argument("--chain", type=int, default=100_000, help="length of the chain")
    parser.add_argument("--quick", action="store_true", help="3 repeats, 20,000-node chain")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.chain_repeats, args.chain = 3, 1, 20_000

    print(f"python {sys.version.split()[0]}  torch {torch.__version__}  "
          f"torchviz 0.0.3  threads {torch.get_num_threads()}  "
          f"recursionlimit {sys.getrecursionlimit()}")
    print("time = median of repeats after 1 warm-up, ms; both produce the DOT text (.source)\n")

    cases: list[tuple[str, torch.Tensor, dict, int]] = []
    for depth in (10, 50, 200):
        loss, params = build_mlp(depth)
        cases.append((f"MLP depth {depth}", loss, params, args.repeats))
    start = time.perf_counter()
    chain, chain_params = build_chain(args.chain)
    build_s = time.perf_counter() - start
    cases.append((f"chain x*1.0001 x{args.chain:,}", chain, chain_params, args.chain_repeats))

    draw_rows, split_rows = [], []
    for label, root, params, repeats in cases:
        nodes = count_nodes(root)
        graph = autoviz.extract_graph(root, names=params)
        n_none = sum(1 for n in graph.nodes if n.kind == "none")
        av_ms, av_note = try_time(lambda r=root, p=params: autoviz.draw(r, names=p).source,
                                  repeats)
        tv_ms, tv_note = try_time(
            lambda r=root, p=params: torchviz.make_dot(r, params=p).source, repeats)
        ratio = f"{tv_ms / av_ms:.2f}x" if av_ms and tv_ms else "-"
        draw_rows.append([label, f"{nodes:,}", f"{len(graph.edges):,}", fmt(av_ms),
                          tv_note or fmt(tv_ms), ratio])
        if av_note:
            draw_rows[-1][3] = av_note

        ext_ms, _ = try_time(lambda r=root, p=params: autoviz.extract_graph(r, names=p),
                             repeats)
        dot_ms, _ = try_time(lambda g=graph: autoviz.to_dot(g), repeats)
        total = (ext_ms or 0) + (dot_ms or 0)
        share = f"{100 * (ext_ms or 0) / total:.0f}%" if total else "-"
        split_rows.append([label, f"{nodes:,} (+{n_none} None)", fmt(ext_ms), fmt(dot_ms),
                           share, f"{(ext_ms or 0) / max(nodes, 1) * 1000:.1f}"])

    print("1) draw -> DOT source")
    print_table(["graph", "nodes", "edges", "autoviz ms", "torchviz ms", "torchviz/autoviz"],
                draw_rows)
    print("   nodes = distinct grad_fn/AccumulateGrad nodes reachable via next_functions;")
    print("   edges = autoviz edges (incl. edges to None inputs, which torchviz skips).")
    print(f"   chain built natively in {build_s * 1000:,.0f} ms.\n")

    print("2) autoviz split: extract_graph (walk + plain data) vs to_dot (DOT text)")
    print_table(["graph", "autoviz nodes", "extract ms", "to_dot ms", "extract share",
                 "extract us/node"], split_rows)


if __name__ == "__main__":
    main()
