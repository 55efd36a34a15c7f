"""Hostile links against a real server: each runs in a disposable worker, and the server
keeps answering, other sessions keep stepping, and its memory comes back.

Websocket clients speak Streamlit's protocol (tests/stclient.py) to ``streamlit run app.py``
on 127.0.0.1; traffic is bounded in count and time.
"""

import asyncio
import threading
import time
import urllib.request
from urllib.parse import urlencode

import pytest
from stclient import Server, Session, process_tree

from autoviz.lesson.share import View, to_params

pytestmark = pytest.mark.timeout(300)

LAYOUT_SECONDS = 3  # the server's layout bound here (AUTOVIZ_LAYOUT_SECONDS), to keep it short

# What the attacker sent, one link each.
HOSTILE = {
    # a 95,000-step in-place chain, then a failure (it crashed the server when freed)
    "crash": ("import torch\nx = torch.ones(1, requires_grad=True)\nz = x * 1\n"
              "for i in range(95000):\n    z += 1\nq = undefined_name\n", None),
    # a graph whose full layout holds Graphviz for minutes (budget=0: draw everything)
    "freeze": ("import torch\nx = torch.ones(1, requires_grad=True)\ny = x\n"
               "for i in range(1200):\n    y = torch.cat([" + ", ".join(["y"] * 30) + "])[:1]\n"
               "loss = y.sum()\n", 0),
    # a cycle through the C++ graph that Python's gc cannot collect (~70 MB a visit)
    "leak": ("import torch\na = torch.ones(3000, 3000, requires_grad=True)\na.grad = a * 1.0\n"
             "loss = (a * 2).sum()\n", None),
    # broadcasting that asks for 6.4 GB past the element caps
    "bomb": ("import torch\na = torch.ones(40000, 1, requires_grad=True)\nb = torch.ones(40000)\n"
             "c = torch.max(a, b)\nloss = c.sum()\n", None),
}
EXPECT = {  # each refused by the runner's caps now, and the worker would contain it anyway
    "crash": "the autograd graph would be more than 10,000 nodes deep",
    "freeze": f"laying out the graph was stopped after {LAYOUT_SECONDS} s",
    "leak": "MulBackward0",
    "bomb": "the limit per tensor is 40 MB",
}


def tree_rss_mb(pid):
    """Resident memory of ``pid`` and all its descendants (the workers), in MB."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total / 1024


class Health(threading.Thread):
    """Polls /_stcore/health every 0.2 s; keeps the slowest answer (a failure counts as
    the poll's full timeout)."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url, self.worst, self.polls, self.stop = url, 0.0, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            start = time.monotonic()
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=5) as r:
                    assert r.status == 200
                took = time.monotonic() - start
            except (OSError, AssertionError):
                took = 5.0
            self.worst, self.polls = max(self.worst, took), self.polls + 1
            self.stop.wait(0.2)


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOVIZ_LAYOUT_SECONDS", str(LAYOUT_SECONDS))
    srv = Server(tmp_path / "streamlit.log")
    yield srv
    code = srv.stop()
    assert code is None, f"the server died ({code}):\n{srv.tail()}"


def test_hostile_links_leave_the_server_and_other_sessions_working(server):
    health = Health(server.url)

    async def main():
        async with Session(server.url) as a:
            first = await a.rerun()
            assert first.step == (0, 3) and not first.errors, first.errors
            for key in ("next", "reset"):  # warm: the layout cache, the worker's first job
                await a.click(key)
            await asyncio.sleep(1)
            before = tree_rss_mb(server.pid)
            health.start()
            steps, seen = [], {}
            for name, (code, budget) in HOSTILE.items():
                link = urlencode(to_params(View(code=code, budget=budget)))
                async with Session(server.url, link, timeout=120) as b:
                    attack = asyncio.create_task(b.rerun())
                    while not attack.done():  # A keeps stepping meanwhile
                        k = a.last.step[0] if a.last and a.last.step else 0
                        run = await a.click("reset" if k == 3 else "next")
                        assert not run.errors and run.has("AccumulateGrad"), run.errors
                        assert run.step == ((k + 1) % 4, 3), (k, run.step)
                        steps.append(run.duration)
                    seen[name] = attack.result()
            await asyncio.sleep(2)  # workers exit; their memory goes with them
            return before, steps, seen

    try:
        before, steps, seen = asyncio.run(main())
    finally:
        health.stop.set()
    health.join(10)
    after = tree_rss_mb(server.pid)
    print(f"\n[isolation] server alone {server.rss_mb():.0f} MB")
    print(f"\n[isolation] health: {health.polls} polls, slowest {health.worst * 1000:.0f} ms; "
          f"A's {len(steps)} steps meanwhile: max {max(steps) * 1000:.0f} ms; server tree RSS "
          f"{before:.0f} -> {after:.0f} MB")
    for name, run in seen.items():
        text = "\n".join(run.texts + run.errors)
        assert EXPECT[name] in text or run.has(EXPECT[name]), (name, text[:2000])
    assert server.alive()
    assert health.worst < 2.0, f"/_stcore/health took {health.worst:.1f} s"
    assert len(steps) >= 4 and max(steps) < 2.0, steps
    assert after - before < 200, f"server tree RSS {before:.0f} -> {after:.0f} MB"


def test_the_server_is_warm_before_it_first_answers(server):
    """app.py's lifespan: the workers' warm parent runs, with torch imported, before the
    first request; the server itself never maps libtorch."""
    def maps(pid):
        with open(f"/proc/{pid}/maps") as f:
            return f.read()

    def cmdline(pid):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")

    parents = [p for p in process_tree(server.pid) if "forkserver" in cmdline(p)]
    assert parents, "no warm parent after the server became healthy"
    assert any("libtorch" in maps(p) for p in parents)
    assert "libtorch" not in maps(server.pid)
