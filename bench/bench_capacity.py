"""Capacity of one server: the first visitor, the server's CPU per interaction, and many
sessions at once, each against a trivial Streamlit page (``st.write("hi")``) served the same
way in the same run.

1. First visitor: ``streamlit run`` -> healthy -> a browser opens the page -> the graph (the
   trivial page: its text) is painted. Chromium's start is left out (it is started before).
2. CPU per interaction: one websocket session clicks Next (a step) or types a new program
   (an edit); the CPU the server and its workers spent per interaction, against one rerun
   of the trivial page.
3. Capacity: K sessions, each acting every 3 s (70 % steps, 20 % edits or presets, 10 %
   toggles of retain_graph), for a fixed time; latency p50 / p95 and errors.

    python bench/bench_capacity.py            # ~4 minutes
    python bench/bench_capacity.py --quick    # K = 10 and 20, 15 s each
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from stclient import Server, Session, process_tree  # noqa: E402

from autoviz.lesson.presets import PRESETS  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
TRIVIAL = 'import streamlit as st\n\nst.write("hi")\n'
PAINTED = """
window.__at = null;
const roots = [];
const attach = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (init) {
  const root = attach.call(this, init); roots.push(root); return root;
};
const look = () => {
  const found = roots.some((r) => r.querySelector('.av-root[data-ready] svg g.node')) ||
    [...document.querySelectorAll('[data-testid=stMarkdownContainer] p')]
      .some((p) => p.textContent === 'hi');
  if (found) window.__at = performance.now(); else requestAnimationFrame(look);
};
requestAnimationFrame(look);
"""


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and every descendant, with the reaped children's (the workers
    exit after each job; their parent, the forkserver, collects their time)."""
    ticks = sum(int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
                for f in process_tree(pid).values())
    return ticks / os.sysconf("SC_CLK_TCK")


def first_visitor(app: Path, label: str) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.add_init_script(PAINTED)
        with tempfile.TemporaryDirectory() as folder:
            server = Server(Path(folder) / "log", app=app)
            try:
                page.goto(server.url)
                page.wait_for_function("window.__at !== null", timeout=120_000)
                painted = page.evaluate("window.__at") / 1000
            finally:
                server.stop()
        browser.close()
    print(f"  {label:<28} painted {painted:.2f} s after opening the page")
    return painted


async def cpu_per(server: Server, action: str, rounds: int) -> float:
    async with Session(server.url) as s:
        await s.rerun()
        for _ in range(3):  # warm
            await _act(s, action, 0)
        start = tree_cpu(server.pid)
        for i in range(rounds):
            await _act(s, action, i + 1)
        await asyncio.sleep(0.3)  # the last worker is reaped
        return (tree_cpu(server.pid) - start) / rounds


async def _act(s: Session, action: str, i: int) -> float:
    if action == "rerun":
        run = await s.rerun()
    elif action == "step":
        k = s.last.step[0] if s.last and s.last.step else 0
        n = s.last.step[1] if s.last and s.last.step else 1
        run = await s.click("reset" if k >= n else "next")
    elif action == "edit":
        code = PRESETS["scalar"].code + f"# edit {time.time_ns()} {i}\n"
        run = await s.set_text("editor", code)
    elif action == "preset":
        key = random.choice(["seed_network", "neuron", "mlp", "scalar"])
        run = await s.set_text("editor", PRESETS[key].code + f"# {time.time_ns()}\n")
    elif action == "toggle":
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        widget = s.widget("retain")
        s.retain = not getattr(s, "retain", True)  # type: ignore[attr-defined]
        run = await s.rerun([WidgetState(id=widget.id, bool_value=s.retain)])
    else:
        raise ValueError(action)
    if run.errors:
        raise RuntimeError(f"{action}: {run.errors[:2]}")
    return run.duration


async def capacity(server: Server, sessions: int, seconds: float,
                   trivial: bool = False) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = [0]
    deadline = time.monotonic() + seconds

    async def user(i: int) -> None:
        rng = random.Random(i)
        try:
            async with Session(server.url, timeout=60) as s:
                await s.rerun()
                await asyncio.sleep(rng.uniform(0, 3))
                while time.monotonic() < deadline:
                    tick = time.monotonic()
                    roll = rng.random()
                    action = "rerun" if trivial else (
                        "step" if roll < 0.7 else "edit" if roll < 0.8 else
                        "preset" if roll < 0.9 else "toggle")
                    try:
                        latencies.append(await _act(s, action, i))
                    except Exception:  # noqa: BLE001 - counted, the user goes on
                        errors[0] += 1
                    await asyncio.sleep(max(0.0, 3 - (time.monotonic() - tick)))
        except Exception:  # noqa: BLE001 - a session that could not even open
            errors[0] += 1

    await asyncio.gather(*(user(i) for i in range(sessions)))
    return latencies, errors[0]


def report(label: str, server: Server, k: int, seconds: float, trivial: bool = False) -> None:
    client = time.process_time()
    cpu = tree_cpu(server.pid)
    latencies, errors = asyncio.run(capacity(server, k, seconds, trivial))
    client, cpu = time.process_time() - client, tree_cpu(server.pid) - cpu
    q = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else [0.0] * 19
    print(f"  {label}: {len(latencies):>4} actions, p50 "
          f"{statistics.median(latencies) * 1000:.0f} ms, p95 {q[18] * 1000:.0f} ms, errors "
          f"{errors}; CPU: server+workers {cpu / seconds:.2f}, clients "
          f"{client / seconds:.2f} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        trivial = Path(folder) / "trivial.py"
        trivial.write_text(TRIVIAL)
        print("1. First visitor after `streamlit run` (chromium already running)")
        app_paint = first_visitor(ROOT / "app.py", "autoviz (the landing graph)")
        hi_paint = first_visitor(trivial, 'trivial page (st.write("hi"))')
        print(f"  ratio {app_paint / hi_paint:.2f}x")

        rounds = 10 if args.quick else 30
        print(f"\n2. CPU per interaction (server and workers; {rounds} each, after 3 warm)")
        base, default = 0.0, 0.0
        for gc_flag in ("false", "true"):  # the app's config (no gc after a rerun), Streamlit's
            hi = Server(Path(folder) / "hi.log", app=trivial,
                        flags=("--server.fileWatcherType=none",
                               f"--runner.postScriptGC={gc_flag}"))
            try:
                cost = asyncio.run(cpu_per(hi, "rerun", rounds))
            finally:
                hi.stop()
            base, default = (cost, default) if gc_flag == "false" else (base, cost)
        server = Server(Path(folder) / "app.log")
        try:
            step = asyncio.run(cpu_per(server, "step", rounds))
            edit = asyncio.run(cpu_per(server, "edit", rounds))
            print(f"  trivial page rerun {base * 1000:.1f} ms with the app's settings "
                  f"(runner.postScriptGC off), {default * 1000:.1f} ms with Streamlit's "
                  f"defaults\n  step {step * 1000:.1f} ms ({step / base:.1f}x; "
                  f"{step / default:.1f}x); edit {edit * 1000:.1f} ms ({edit / base:.1f}x; "
                  f"{edit / default:.1f}x)")
            seconds = 15 if args.quick else 30
            print(f"\n3. Capacity: K sessions acting every 3 s for {seconds} s "
                  "(70 % steps, 20 % edits/presets, 10 % toggles)")
            for k in ([10, 20] if args.quick else [10, 20, 40]):
                report(f"K = {k:>2}", server, k, seconds)
        finally:
            server.stop()
        # The same load on the trivial page (every action a rerun): what this machine and
        # this client manage at all (the clients share the machine's two cores).
        hi = Server(Path(folder) / "hi2.log", app=trivial)
        try:
            report("trivial, K = 40", hi, 40, seconds, trivial=True)
        finally:
            hi.stop()


if __name__ == "__main__":
    main()
