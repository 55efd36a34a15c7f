"""Benchmark: the server's memory over 1000 stepping reruns of a preset (issue 4).

Run from the repository root::

    python bench/bench_memory.py                   # 1000 reruns of the landing preset
    python bench/bench_memory.py --preset mlp      # another preset (opened by its link)
    python bench/bench_memory.py --reruns 300 --warmup 30 --every 50

It starts the real server (``streamlit run app.py`` on 127.0.0.1, the app's own config),
opens one session over Streamlit's websocket protocol (tests/stclient.py: no browser), and
clicks Next, Run to end, Reset in rotation, checking every run's "Step k of n" and that it
has no error. After the warm-up it reads the server process's VmRSS from /proc every
``--every`` reruns and prints the table, the growth and the rerun rate. Exit status 1 when
the growth reaches the issue's bound (50 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from stclient import MemoryRun, Run, Server, Session, measure_memory  # noqa: E402

from autoviz.lesson.lab import make_study  # noqa: E402
from autoviz.lesson.presets import DEFAULT, PRESETS  # noqa: E402
from autoviz.lesson.share import View, to_params  # noqa: E402

BOUND_MB = 50.0
ROTATION = ["next", "end", "reset"]


async def bench(server: Server, preset: str, warmup: int, reruns: int,
                every: int) -> MemoryRun:
    p = PRESETS[preset]
    study = make_study(p.code, p.root)
    assert study.trace is not None, study.error or study.backward_error
    n = len(study.trace.steps)
    # The landing page is the default preset; any other opens through its shared link.
    query = "" if preset == DEFAULT else urlencode(to_params(View(code=p.code, root=p.root)))

    def check(i: int, key: str, run: Run) -> None:
        expected = {"next": 1, "end": n, "reset": 0}[key]
        if run.step != (expected, n) or run.errors:
            raise AssertionError(f"rerun {i} ({key}): step {run.step}, expected "
                                 f"({expected}, {n}); errors {run.errors}")

    async with Session(server.url, query) as session:
        first = await session.rerun()
        if first.step != (0, n) or first.errors:
            raise AssertionError(f"opening {preset}: step {first.step}, errors {first.errors}")
        return await measure_memory(server, session, ROTATION, warmup, reruns, every, check)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default=DEFAULT, choices=sorted(PRESETS))
    parser.add_argument("--reruns", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--every", type=int, default=100, help="RSS sample interval")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "streamlit.log")
        try:
            m = asyncio.run(bench(server, args.preset, args.warmup, args.reruns, args.every))
        finally:
            code = server.stop()
        if code is not None:
            print(f"the server died ({code}):\n{server.tail()}")
            return 1
    print(f"preset {args.preset!r}: {args.warmup} warm-up reruns, then {m.reruns} reruns "
          f"({' / '.join(ROTATION)} in rotation)\n")
    print(m.table())
    print(f"\nRSS {m.before:.1f} MB -> {m.after:.1f} MB: growth {m.growth:+.1f} MB over "
          f"{m.reruns} reruns (peak {m.peak:.1f} MB; bound {BOUND_MB:.0f} MB); "
          f"{m.elapsed:.1f} s, {m.rate:.1f} reruns/s ({1000 / m.rate:.0f} ms per rerun)")
    ok = m.growth < BOUND_MB
    print("within the bound" if ok else "OVER THE BOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
