"""Issue 14's measurement as a table: each snippet of ``tests/corpus/`` run natively (one
subprocess) and through autoviz, then counted per category as same / refused / failed /
differs, with the refusals grouped by message (what to build next), every difference
named (those are bugs) and, apart, the snippets whose warnings differ.

Run from the repository root::

    python bench/corpus_report.py            # the whole corpus
    python bench/corpus_report.py -k nn__    # the snippets whose name holds "nn__"
    python bench/corpus_report.py -v         # and every snippet's verdict
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from corpus_oracle import (  # noqa: E402
    grouped,
    run_corpus,
    share_same,
    snippets,
    table,
    verdict_kind,
    warnings_differ,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only snippets whose name contains this")
    parser.add_argument("-v", action="store_true", help="print every snippet's verdict")
    args = parser.parse_args()
    sources = {n: s for n, s in snippets().items() if args.k in n}
    start = time.perf_counter()
    results = run_corpus(sources)
    seconds = time.perf_counter() - start
    verdicts = {name: result.verdict for name, result in results.items()}
    print(table(verdicts))
    same = sum(v == "same" for v in verdicts.values())
    print(f"\n{same} of {len(verdicts)} run exactly as in torch ({share_same(verdicts):.0%}); "
          f"{seconds:.1f} s")
    for kind, title in (("differs", "DIFFERENT FROM TORCH (bugs)"),
                        ("failed", "failed the same way as torch"),
                        ("refused", "refused, by message")):
        groups = grouped(verdicts, kind)
        if not groups:
            continue
        print(f"\n{title}:")
        for message, names in groups:
            print(f"  {len(names):3d}  {message}")
            print(f"       {', '.join(names)}")
    noted = {name: warnings_differ(r.native, r.ours) for name, r in results.items()
             if verdict_kind(r.verdict) in ("same", "failed")}
    noted = {name: text for name, text in noted.items() if text}
    if noted:
        print("\nwarnings differ (not in the verdict; torch warns some only once a process):")
        for name, text in noted.items():
            print(f"  {name}: {text}")
    if args.v:
        print()
        for name, verdict in verdicts.items():
            print(f"{name}: {verdict}")


if __name__ == "__main__":
    main()
