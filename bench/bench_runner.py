"""Benchmark: autoviz.run_program (safe AST interpreter) vs native Python on the same source.

Run from the repository root::

    python bench/bench_runner.py            # full run
    python bench/bench_runner.py --quick    # shorter time budget, fewer profiled runs

The native baseline is ``exec`` of a code object compiled once, up front. That happens
here, in benchmark code, on our own fixed programs: autoviz itself never compiles or execs
user text. Times are medians over interleaved rounds after one warm-up call each
(``time.perf_counter``). A cProfile of ``run_program`` on the seed program follows.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import autoviz  # noqa: E402
from autoviz.runner import program as av_program  # noqa: E402

# The "Non-Scalar Case" network of /work/shared/seeds/autograd_in_pytorch.txt (In [61]/[62]),
# without its print calls.
SEED = """\
import torch
x = torch.ones(3)  # input tensor
w = torch.randn(3, 2, requires_grad=True)
b = torch.randn(2, requires_grad=True)
z = torch.matmul(x, w)+b
y = torch.zeros(2) # Output
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
loss.backward()
"""

MLP = """\
import torch
import torch.nn.functional as F
torch.manual_seed(0)
X = torch.randn(64, 32)
target = torch.randint(0, 10, (64,))
W1 = torch.randn(32, 64, requires_grad=True)
b1 = torch.zeros(64, requires_grad=True)
W2 = torch.randn(64, 10, requires_grad=True)
b2 = torch.zeros(10, requires_grad=True)
h = F.relu(X @ W1 + b1)
logits = h @ W2 + b2
loss = F.cross_entropy(logits, target)
loss.backward()
"""

LOOP = """\
import torch
x = torch.ones(3, requires_grad=True)
y = x
for i in range(1000):
    y = y * 1.001
loss = y.sum()
loss.backward()
"""

PROGRAMS = {
    "seed network (BCE)": SEED,
    "2-layer MLP, CE, batch 64": MLP,
    "loop chain x1000": LOOP,
}
TARGET = 2.0


def measure(fns: dict[str, Callable[[], Any]], budget_s: float, min_repeats: int = 15,
            max_repeats: int = 1000) -> dict[str, tuple[float, int]]:
    """(median ms, rounds) per function: one warm-up each, then interleaved rounds.

    Interleaving (a, b, c, a, b, c...) makes every variant see the same machine load.
    """
    warm = 0.0
    for fn in fns.values():
        start = time.perf_counter()
        fn()
        warm += time.perf_counter() - start
    rounds = max(min_repeats, min(max_repeats, int(budget_s / max(warm, 1e-6))))
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(rounds):
        if i % 50 == 0:
            gc.collect()
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: (statistics.median(samples), rounds) for name, samples in times.items()}


def split_backward(source: str) -> tuple[str, str]:
    """The program without its last line (``loss.backward()``), and the root's name."""
    lines = source.rstrip("\n").splitlines()
    last = lines[-1].strip()
    assert last.endswith(".backward()"), last
    return "\n".join(lines[:-1]) + "\n", last.removesuffix(".backward()")


def variants(source: str) -> dict[str, Callable[[], Any]]:
    """The ways one program is run: natively, natively + recorder, through autoviz."""
    code = compile(source, "<bench>", "exec")
    forward, root = split_backward(source)
    forward_code = compile(forward, "<bench-forward>", "exec")

    def native() -> None:
        exec(code, {})

    def native_hooked() -> None:
        # the floor for any faithful recorder: torch's own Node hooks, nothing else (walk
        # the graph, one hook per node that appends what it got, backward, remove them)
        namespace: dict[str, Any] = {}
        exec(forward_code, namespace)
        loss = namespace[root]
        nodes, stack, seen = [], [loss.grad_fn], set()
        while stack:
            node = stack.pop()
            if node is None or node in seen:
                continue
            seen.add(node)
            nodes.append(node)
            stack.extend(next_node for next_node, _ in node.next_functions)
        got: list[Any] = []
        handles = [node.register_hook(lambda gi, go, node=node: got.append((node, gi, go)))
                   for node in nodes]
        loss.backward()
        for handle in handles:
            handle.remove()

    def native_recorded() -> None:
        namespace: dict[str, Any] = {}
        exec(forward_code, namespace)
        autoviz.record_backward(namespace[root], retain_graph=None)

    def run_cached() -> None:
        autoviz.run_program(source)

    def run_cold() -> None:
        av_program._parse.cache_clear()  # parse + check again, as for new text
        autoviz.run_program(source)

    return {"native": native, "native+hooks": native_hooked,
            "native+record": native_recorded, "autoviz": run_cached,
            "autoviz cold": run_cold}


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def _where(key: tuple[str, int, str]) -> str:
    filename, lineno, func = key
    if filename == "~":
        return func  # a builtin, e.g. "<method 'clone' of 'torch._C.TensorBase' objects>"
    path = Path(filename)
    if str(path).startswith(str(ROOT)):
        shown = str(path.relative_to(ROOT))
    elif "site-packages" in path.parts:
        shown = "/".join(path.parts[path.parts.index("site-packages") + 1:])
    else:
        shown = path.name
    return f"{shown}:{lineno}({func})"


# The interpreter's own dispatch frames: they contain nearly everything, so a cumulative
# ranking that keeps them says little. Left out unless --profile-all.
DISPATCH = {"run_program", "run", "_block", "_stmt", "_value", "_eval", "_call",
            "_call_function", "_call_method", "_fail_safe", "_binop", "_for", "<lambda>",
            "<genexpr>", "_expr_statement", "_assign_statement", "_annassign_statement",
            "_if_statement", "_return_statement", "_binop_expr", "_unaryop_expr",
            "_boolop_expr", "_ifexp_expr", "_sequence_expr", "_subscript_expr",
            "_attribute_expr", "_joinedstr_expr", "_augassign", "_assign", "_with",
            "_call_user"}


def profile(source: str, runs: int, top: int, everything: bool = False) -> None:
    """cProfile ``run_program(source)`` ``runs`` times; print the top entries two ways."""
    autoviz.run_program(source)  # warm: parse cache, torch dispatch caches
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        autoviz.run_program(source)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = max(ct for (_, _, _, ct, _) in stats.values())
    for title, index in (("cumulative", 3), ("own (tottime)", 2)):
        print(f"\ntop {top} by {title} time, {runs} runs, per-run us "
              f"(profiled run: {total / runs * 1e6:,.0f} us):")
        entries = [(key, value) for key, value in stats.items()
                   if everything or index != 3 or not (key[0].startswith(str(ROOT))
                                                       and key[2] in DISPATCH)]
        ranked = sorted(entries, key=lambda item: item[1][index], reverse=True)[:top]
        rows = [[_where(key), f"{nc / runs:g}", f"{tt / runs * 1e6:,.1f}",
                 f"{ct / runs * 1e6:,.1f}", f"{100 * value[index] / total:.0f}%"]
                for key, value in ranked for (_, nc, tt, ct, _) in [value]]
        print_table(["function", "calls/run", "own us", "cum us", "% of run"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=4.0,
                        help="seconds of timed rounds per program (15..1000 rounds)")
    parser.add_argument("--profile-runs", type=int, default=300,
                        help="run_program calls under cProfile (0: skip the profile)")
    parser.add_argument("--top", type=int, default=10, help="profile entries to show")
    parser.add_argument("--profile", choices=["seed", "mlp", "loop"], default="seed",
                        help="which program to profile")
    parser.add_argument("--profile-all", action="store_true",
                        help="keep the interpreter's dispatch frames in the cumulative list")
    parser.add_argument("--quick", action="store_true", help="1 s per program, 50 profiled runs")
    args = parser.parse_args()
    if args.quick:
        args.budget, args.profile_runs = 1.0, 50

    # run_program sets torch's process-wide thread count to Limits.torch_threads (1) on its
    # first call; set it up front so native and autoviz runs use the same setting.
    torch.set_num_threads(autoviz.Limits().torch_threads)
    print(f"python {sys.version.split()[0]}  torch {torch.__version__}  "
          f"torch threads {torch.get_num_threads()}  cpus {os.cpu_count()}")
    print("median ms per run over interleaved rounds after 1 warm-up each\n")
    print("  native        exec(compile(src)) of the same text, code object compiled once")
    print("  native+hooks  native forward, then backward with one bare hook per node (the floor "
          "for\n                any recorder of torch's engine)")
    print("  native+record native forward, then autoviz.record_backward(loss) (no interpreter)")
    print("  autoviz       autoviz.run_program(src) (parse+check cached by source text)")
    print("  autoviz cold  run_program with its parse cache cleared first\n")

    rows = []
    for label, source in PROGRAMS.items():
        result = autoviz.run_program(source)
        trace = result.traces[-1]
        nodes = sum(1 for n in trace.graph.nodes if n.kind != "none")
        timed = measure(variants(source), args.budget)
        native = timed["native"][0]
        ratio = timed["autoviz"][0] / native
        recorded = timed["native+record"][0]
        hooked = timed["native+hooks"][0]
        rows.append([label, f"{nodes:,}", f"{native:.3f}", f"{hooked:.3f}", f"{recorded:.3f}",
                     f"{timed['autoviz'][0]:.3f}", f"{timed['autoviz cold'][0]:.3f}",
                     f"{hooked / native:.2f}x", f"{recorded / native:.2f}x", f"{ratio:.2f}x",
                     "ok" if ratio <= TARGET else "OVER", str(timed["native"][1])])
    print_table(["program", "graph nodes", "native", "native+hooks", "native+record", "autoviz",
                 "autoviz cold", "hooks/native", "record/native", "autoviz/native",
                 f"<= {TARGET:g}x",
                 "rounds"], rows)

    if args.profile_runs:
        source = {"seed": SEED, "mlp": MLP, "loop": LOOP}[args.profile]
        runs = args.profile_runs if args.profile == "seed" else max(1, args.profile_runs // 30)
        print(f"\ncProfile of autoviz.run_program({args.profile} program)"
              + ("" if args.profile_all else
                 "; cumulative list leaves out the interpreter's dispatch frames "
                 "(_eval, _stmt, _call, ...)"))
        profile(source, runs, args.top, args.profile_all)


if __name__ == "__main__":
    main()
