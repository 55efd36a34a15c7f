"""Benchmark: autoviz.draw vs torchviz.make_dot on the same autograd graphs.

Run from the repository root::

    python bench/bench_draw.py            # full run
    python bench/bench_draw.py --quick    # fewer repeats, smaller chain

Both libraries run in this one process on the very same graph objects. Times are the
median of several interleaved repeats after one warm-up call (``time.perf_counter``), in
milliseconds. The long-chain cases run under an address-space cap so that a run-away
allocation is reported as MemoryError instead of waking the OOM killer.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

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


def measure(fns: dict[str, Callable[[], Any]], budget_s: float = 1.0, min_repeats: int = 3,
            max_repeats: int = 101) -> dict[str, tuple[float | None, str]]:
    """Median wall time (ms) of each function, or ``(None, note)`` when it raised.

    One untimed warm-up call each, then the functions run *interleaved* (a, b, a, b...)
    so both see the same load on a shared machine; the number of rounds fits
    ``budget_s`` (within ``min_repeats``..``max_repeats``).
    """
    results: dict[str, tuple[float | None, str]] = {}
    live: dict[str, Callable[[], Any]] = {}
    warm = 0.0
    for name, fn in fns.items():
        start = time.perf_counter()
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - the benchmark reports failures
            spent = (time.perf_counter() - start) * 1000
            results[name] = (None, f"{type(exc).__name__} after {spent:,.0f} ms")
            continue
        warm += time.perf_counter() - start
        live[name] = fn
    rounds = max(min_repeats, min(max_repeats, int(budget_s / max(warm, 1e-6))))
    times: dict[str, list[float]] = {name: [] for name in live}
    for i in range(rounds):
        if i % 25 == 0:
            gc.collect()  # ~0.1 s with torch loaded: not before every call
        for name, fn in live.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1000)
    for name, samples in times.items():
        results[name] = (statistics.median(samples), f"n={len(samples)}")
    return {name: results[name] for name in fns}


def show(result: tuple[float | None, str]) -> str:
    value, note = result
    return note if value is None else f"{value:,.2f}"


@contextlib.contextmanager
def memory_cap(extra_gb: float) -> Iterator[None]:
    """Cap this process's address space at its current size + ``extra_gb``.

    A run-away allocation then raises MemoryError here instead of waking the kernel's
    OOM killer (which would kill the benchmark, or a neighbour on a shared machine).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as status:
        vm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    limit = vm_kb * 1024 + int(extra_gb * 2**30)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w)
                    in enumerate(zip(header, widths))))
    print(line)
    for row in rows:
        print("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w)
                        in enumerate(zip(row, widths))))


def free_chain(root: torch.Tensor) -> list:
    """Nodes of a chain, root first: clear the list front to back after dropping the root
    tensor. Once Python has touched a deep chain's nodes, torch frees it recursively and
    overflows the C stack (a torch issue; autoviz's runner caps graph depth for this)."""
    keep, node = [], root.grad_fn
    while node is not None:
        keep.append(node)
        nexts = [n for n, _ in node.next_functions if n is not None]
        node = nexts[0] if nexts else None
    return keep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=2.0,
                        help="seconds of timed rounds per case (3..101 rounds)")
    parser.add_argument("--chain", type=int, default=100_000, help="length of the long chain")
    parser.add_argument("--mem-gb", type=float, default=3.0,
                        help="extra address space allowed during the chain cases (GiB)")
    parser.add_argument("--quick", action="store_true", help="0.3 s per case, 20,000-node chain")
    args = parser.parse_args()
    if args.quick:
        args.budget, args.chain = 0.3, 20_000

    print(f"python {sys.version.split()[0]}  torch {torch.__version__}  "
          f"torchviz 0.0.3  threads {torch.get_num_threads()}  "
          f"recursionlimit {sys.getrecursionlimit()}")
    print("time = median ms over interleaved rounds after 1 warm-up each; "
          "both produce the DOT text (.source)\n")

    cases: list[tuple[str, torch.Tensor, dict, float]] = []
    for depth in (10, 50, 200):
        loss, params = build_mlp(depth)
        cases.append((f"MLP depth {depth}", loss, params, args.budget))
    start = time.perf_counter()
    chain, chain_params = build_chain(args.chain)
    build_s = time.perf_counter() - start
    cases.append((f"chain x*1.0001 x{args.chain:,}", chain, chain_params, args.budget))

    draw_rows, split_rows = [], []
    for label, root, params, budget in cases:
        nodes = count_nodes(root)
        is_chain = root is chain
        with memory_cap(args.mem_gb) if is_chain else contextlib.nullcontext():
            res = measure({
                "autoviz": lambda r=root, p=params: autoviz.draw(r, names=p).source,
                "torchviz": lambda r=root, p=params: torchviz.make_dot(r, params=p).source,
            }, budget)
            try:
                graph = autoviz.extract_graph(root, names=params)
            except MemoryError:
                graph = None
            split = measure({
                "extract": lambda r=root, p=params: autoviz.extract_graph(r, names=p),
                "dot": lambda g=graph: autoviz.to_dot(g),
            }, budget) if graph is not None else {"extract": (None, "MemoryError"),
                                                  "dot": (None, "no graph")}
        av, tv = res["autoviz"][0], res["torchviz"][0]
        ratio = f"{tv / av:.2f}x" if av and tv else "-"
        draw_rows.append([label, f"{nodes:,}", show(res["autoviz"]), show(res["torchviz"]),
                          ratio, res["autoviz"][1] if av else "-"])
        ext, dot = split["extract"][0], split["dot"][0]
        n_none = "?" if graph is None else sum(1 for n in graph.nodes if n.kind == "none")
        share = f"{100 * ext / (ext + dot):.0f}%" if ext and dot else "-"
        per_node = f"{ext / nodes * 1000:.1f}" if ext else "-"
        split_rows.append([label, f"{nodes:,}", str(n_none), show(split["extract"]),
                           show(split["dot"]), share, per_node])
        del graph

    print("1) draw -> DOT source")
    print_table(["graph", "nodes", "autoviz ms", "torchviz ms", "torchviz/autoviz", "repeats"],
                draw_rows)
    print("   nodes = distinct grad_fn/AccumulateGrad nodes reachable via next_functions")
    print(f"   (chain built natively in {build_s * 1000:,.0f} ms; chain cases run under an "
          f"address-space cap of +{args.mem_gb:g} GiB)\n")

    print("2) autoviz split: extract_graph (walk + plain data) vs to_dot (DOT text)")
    print_table(["graph", "nodes", "+None nodes", "extract ms", "to_dot ms", "extract share",
                 "extract us/node"], split_rows)

    print("\n3) chain scaling: autoviz.draw(...).source")
    rows = []
    for length in (1000, 2000, 4000):
        root, params = build_chain(length)
        with memory_cap(args.mem_gb):
            res = measure({
                "autoviz": lambda r=root, p=params: autoviz.draw(r, names=p).source,
                "torchviz": lambda r=root, p=params: torchviz.make_dot(r, params=p).source,
            }, args.budget, max_repeats=5)
        rows.append([f"chain x{length:,}", f"{count_nodes(root):,}", show(res["autoviz"]),
                     show(res["torchviz"])])
    print_table(["graph", "nodes", "autoviz ms", "torchviz ms"], rows)
    keep = free_chain(chain)
    del chain, cases, chain_params
    for i in range(len(keep)):
        keep[i] = None


if __name__ == "__main__":
    main()
