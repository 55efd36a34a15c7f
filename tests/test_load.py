"""Load: many concurrent sessions on one real server, isolation from an abusive session,
and the server's memory over many reruns.

The sessions are websocket clients speaking Streamlit's own protocol (tests/stclient.py),
not browsers: the server does per rerun exactly what it does for a browser, and what is
measured is the server. Run ``python -m pytest tests/test_load.py -q -s`` to see the numbers.
"""

import asyncio
import statistics
import time
from urllib.parse import urlencode

import pytest
from stclient import Run, Server, Session, measure_memory

from autoviz.lesson.presets import DEFAULT, PRESETS
from autoviz.lesson.share import View, to_params
from autoviz.runner.limits import Limits

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("load") / "streamlit.log")
    # The first run in a fresh process imports torch and the app: not what is measured here.
    asyncio.run(_first_run(srv.url))
    yield srv
    code = srv.stop()
    assert code is None, f"the server died during the tests ({code}):\n{srv.tail()}"


async def _first_run(url):
    async with Session(url) as s:
        run = await s.rerun()
        assert not run.errors, run.errors


def link(code, root=None):
    """The query string of the shareable link that opens ``code``."""
    return urlencode(to_params(View(code=code, root=root)))


def steps_of(code, root=None):
    """How many backward steps the app shows for this program (computed here, in-process)."""
    from autoviz.lesson.lab import make_study

    study = make_study(code, root)
    assert study.trace is not None, study.error or study.backward_error
    return len(study.trace.steps)


# --- 1. concurrency ------------------------------------------------------------------------

SESSIONS = 20
NEXT = 1  # Next presses per session, then End, Prev, Reset

# Presets, and a node name that is in that preset's graph and in no other program here.
PRESET_MARKERS = [("seed_network", "BinaryCrossEntropyWithLogitsBackward0"),
                  ("neuron", "TanhBackward0"),
                  ("mlp", "NllLossBackward0")]


def custom_program(i):
    """A program whose names (x_s07, y_s07) and leaf value (1007.) no other session shares,
    and whose length (so its number of steps) depends on ``i``."""
    tag = f"s{i:02d}"
    lines = ["import torch", f"x_{tag} = torch.tensor([{1000 + i}.], requires_grad=True)",
             f"y_{tag} = x_{tag} * x_{tag}"]
    lines += [f"y_{tag} = y_{tag} * {k + 2}" for k in range(i % 3)]
    return "\n".join(lines) + "\n", [f"x_{tag}", f"y_{tag}", f"{1000 + i}"]


class Plan:
    """One session's program, how it is opened, its own markers and its step count."""

    def __init__(self, i):
        self.i = i
        if i % 4 == 0:  # a preset, through its shared link
            key, marker = PRESET_MARKERS[(i // 4) % len(PRESET_MARKERS)]
            preset = PRESETS[key]
            self.name, self.code, self.root = key, preset.code, preset.root
            self.markers, self.names = [marker], [marker]
            self.via = "link"
        else:  # its own program, half through a link, half typed into the editor
            self.code, markers = custom_program(i)
            self.name, self.root = markers[0], None
            self.markers, self.names = markers, markers[:2]  # the value is not a "name"
            self.via = "link" if i % 2 else "editor"
        self.n = steps_of(self.code, self.root)


def check_run(run: Run, plan: Plan, foreign, k, what):
    """The problems with one run: its own graph, the right step, no errors, nobody else's."""
    problems = []
    missing = [m for m in plan.markers if not run.has(m)]
    if missing:
        problems.append(f"its own markers missing: {missing}")
    seen = [m for m in foreign if run.has(m)]
    if seen:
        problems.append(f"other sessions' markers: {seen}")
    if run.step != (k, plan.n):
        problems.append(f"step panel says {run.step}, expected ({k}, {plan.n})")
    if run.errors:
        problems.append(f"errors: {run.errors}")
    return [f"session {plan.i} ({plan.name}) after {what}: {p}" for p in problems]


async def drive(url, plan: Plan, foreign, opened=None):
    """One user: open the program, step Next, End, Prev, Reset; check every run.
    Returns (problems, rerun latencies)."""
    problems, latencies = [], []
    waited = False

    def check(run, k, what):
        latencies.append(run.duration)
        problems.extend(check_run(run, plan, foreign, k, what))

    query = link(plan.code, plan.root) if plan.via == "link" else ""
    try:
        async with Session(url, query) as s:
            run = await s.rerun()
            if plan.via == "editor":
                assert not run.errors, run.errors
                run = await s.set_code(plan.code)
            check(run, 0, f"opening it ({plan.via})")
            if opened is not None:  # everyone holds their own program: step together now
                waited = True
                await opened.wait()
            k = 0
            for _ in range(min(NEXT, plan.n)):
                k += 1
                check(await s.click("next"), k, "Next")
            if k < plan.n:
                k = plan.n
                check(await s.click("end"), k, "End")
            k -= 1
            check(await s.click("prev"), k, "Prev")
            check(await s.click("reset"), 0, "Reset")
    except Exception as exc:  # a session that broke is a finding, not a crash of the test
        problems.append(f"session {plan.i} ({plan.name}): {type(exc).__name__}: {exc}")
    finally:
        if opened is not None and not waited:
            opened.arrive()
    return problems, latencies


class Barrier:
    """All sessions meet here; one that failed counts as arrived, so nobody hangs."""

    def __init__(self, parties):
        self.left = parties
        self.event = asyncio.Event()

    def arrive(self):
        self.left -= 1
        if self.left <= 0:
            self.event.set()

    async def wait(self):
        self.arrive()
        await self.event.wait()


async def run_sessions(url, plans, together):
    everything = {m for plan in plans for m in plan.names}
    barrier = Barrier(len(plans)) if together else None
    start = time.perf_counter()
    results = await asyncio.gather(*[
        drive(url, plan, sorted(everything - set(plan.names)), barrier) for plan in plans])
    return time.perf_counter() - start, results


def test_twenty_concurrent_sessions_each_see_their_own_graph(server):
    offset = server.log_size()
    # The same kind of sessions one by one, two before and two after the concurrent ones
    # (so that a change in the machine's background load shows in both): a preset, a
    # program through a link, one typed into the editor, another link; new programs, as in
    # the concurrent ones. What a session costs on this machine right now.
    alone, cpu_alone = [], 0.0

    def one_by_one(indices):
        nonlocal cpu_alone
        for i in indices:
            cpu = server.cpu_seconds()
            wall, [(problems, _)] = asyncio.run(run_sessions(server.url, [Plan(i)], False))
            cpu_alone += server.cpu_seconds() - cpu
            assert not problems, problems
            alone.append(wall)

    one_by_one([100, 101])
    plans = [Plan(i) for i in range(SESSIONS)]
    cpu = server.cpu_seconds()
    wall, results = asyncio.run(run_sessions(server.url, plans, True))
    cpu = server.cpu_seconds() - cpu
    one_by_one([102, 103])
    single = statistics.mean(alone)
    problems = [p for ps, _ in results for p in ps]
    latencies = sorted(t for _, ts in results for t in ts)
    runs = sum(len(ts) for _, ts in results)
    print(f"\n[load] one session alone (open + {NEXT + 3} steps): {_ms(alone)}, server CPU "
          f"{cpu_alone / len(alone):.2f} s each; {SESSIONS} concurrent sessions: {wall:.1f} s "
          f"wall = {wall / (SESSIONS * single):.2f} x running them one by one, server CPU "
          f"{cpu:.1f} s; {runs} reruns, latency median "
          f"{statistics.median(latencies) * 1000:.0f} ms, "
          f"p90 {latencies[int(0.9 * len(latencies))] * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms")
    assert not problems, "\n".join(problems) + "\n" + server.log_since(offset)[-3000:]
    assert runs == sum(3 + min(NEXT, p.n) + (p.n > NEXT) for p in plans)
    assert "Traceback" not in server.log_since(offset), server.log_since(offset)[-3000:]
    # The time bound. The server runs every session's script on its own thread in one
    # process (one GIL), so 20 sessions cost about 20 times one session's server time
    # however they interleave: ~1x "one by one" is the expectation (measured 0.8-1.8x on a
    # machine shared with other jobs). 3x (or 60 s on a fast machine) leaves room for a
    # loaded CI box and still fails on a hang, a session starved or stalled behind others,
    # or contention costs growing with the number of sessions.
    bound = max(60.0, 3 * SESSIONS * single)
    assert wall < bound, (f"{SESSIONS} concurrent sessions took {wall:.1f} s; one alone "
                          f"takes {single:.2f} s (bound {bound:.0f} s)")


def _ms(values):
    return ", ".join(f"{v:.2f}" for v in values) + " s"


# --- 2. isolation from an abusive session ---------------------------------------------------

ROUNDS = 4
PER_ROUND = 4  # A's steps per phase and round
HEAVY_CHAIN = 3000  # ~1.7 s of the server's time alone (5000: ~4 s, 9000: ~8 s)
HEAVY = ("import torch\n# {nonce}\nx = torch.ones(1, requires_grad=True)\ny = x\n"
         f"for i in range({HEAVY_CHAIN}):\n    y = y * 1.0001\n")


async def step_a(a, plan, foreign):
    """A's next step (Reset after the last one), checked; returns the run."""
    k, n = a.last.step
    key, k = ("reset", 0) if k >= n else ("next", k + 1)
    run = await a.click(key)
    problems = check_run(run, plan, foreign, k, key)
    assert not problems, "\n".join(problems)
    return run


# Programs the runner refuses, one per cap: (program, the line refused in it). The loop runs
# until the statement cap stops it (~0.7 s of the runner's time); the others are refused
# before anything runs.
REFUSED = [("import os\n", 1),
           ("import torch\nx = torch.ones(100000, 100000)\n", 2),
           ("x = 0\nfor i in range(10**7):\n    x = x + 1\n", 2),  # the for line
           ("import torch\na = torch.ones(3000, 3000)\nb = a @ a @ a @ a\n", 3),
           ("while True:\n    pass\n", 1),
           ("x = 10 ** 10 ** 10\n", 1)]


async def refuse(b, log):
    """B submits the next refused program. Each is new text, padded to be refused at a new
    line, so each run's error box can be told from the last one's (and no cache helps)."""
    i = len(log) + 1
    code, line = REFUSED[i % len(REFUSED)]
    run = await b.set_code("# pad\n" * i + code)
    log.append(run)
    assert any(f"Line {i + line} is not allowed" in e for e in run.errors), run.errors


async def refuse_until(b, done, log, pause=0.0):
    """B submits refused programs until ``done``: back to back (no pause), or as a person
    quickly retrying would, ``pause`` seconds after each error box."""
    while not done.is_set():
        await refuse(b, log)
        if pause:
            try:
                await asyncio.wait_for(done.wait(), pause)
            except TimeoutError:
                pass


PACE = 1.0  # s between B's refused programs in the paced rounds


async def abuse(url):
    out = {"idle": [], "refused": [], "paced": [], "b": [], "heavy": []}
    plan = Plan(1)
    foreign = ["is not allowed", "TanhBackward0", f"range({HEAVY_CHAIN})"]
    async with Session(url, link(plan.code)) as a, Session(url) as b:
        await a.rerun()
        await b.rerun()  # B opens the page as anyone does: the default program
        for _ in range(3):  # warm-up: A's steps, and B's refusals of every kind
            await step_a(a, plan, foreign)
        for _ in REFUSED:
            await refuse(b, out["b"])
        warm = len(out["b"])
        # Interleaved rounds, B quiet then B abusing, so both phases see the same background
        # load on a shared machine.
        for _ in range(ROUNDS):
            for _ in range(PER_ROUND):
                out["idle"].append((await step_a(a, plan, foreign)).duration)
            for phase, pause in (("paced", PACE), ("refused", 0.0)):
                done = asyncio.Event()
                abuser = asyncio.create_task(refuse_until(b, done, out["b"], pause))
                try:
                    await asyncio.sleep(0.05)  # B's first refusal is running
                    for _ in range(PER_ROUND):
                        out[phase].append((await step_a(a, plan, foreign)).duration)
                finally:
                    done.set()
                    await abuser
        # B: one heavy program within the caps (a new comment each time: no cache hit).
        # A keeps stepping while it runs.
        heavy = asyncio.create_task(b.set_code(HEAVY.format(nonce=time.time_ns())))
        while not heavy.done() or len(out["heavy"]) < 3:
            run = await step_a(a, plan, foreign)
            out["heavy"].append((run.sent + run.duration, run.duration))
        out["b_heavy"] = heavy.result()
        for _ in range(3):  # and once B is done
            await step_a(a, plan, foreign)
    out["b"] = out["b"][warm:]
    return out


def test_one_session_abusing_the_server_leaves_the_others_responsive(server):
    r = asyncio.run(abuse(server.url))
    idle, refused = statistics.median(r["idle"]), statistics.median(r["refused"])
    paced = statistics.median(r["paced"])
    b_runs = [run.duration for run in r["b"]]
    print(f"\n[load] A's step, idle: median {idle * 1000:.0f} ms ({_msl(r['idle'])})"
          f"\n[load] A's step while B submits refused programs back to back: median "
          f"{refused * 1000:.0f} ms = {refused / idle:.2f} x idle ({_msl(r['refused'])}); "
          f"{len(b_runs)} refusals, B's run median {statistics.median(b_runs) * 1000:.0f} ms"
          f"\n[load] A's step while B submits a refused program every {PACE:.0f} s: median "
          f"{paced * 1000:.0f} ms = {paced / idle:.2f} x idle ({_msl(r['paced'])})")
    heavy = r["b_heavy"]
    during = [d for end, d in r["heavy"] if end <= heavy.sent + heavy.duration]
    print(f"[load] B's {HEAVY_CHAIN}-step chain: {heavy.duration:.1f} s, step panel "
          f"{heavy.step}, errors {[e[:80] for e in heavy.errors]}; A's steps meanwhile: "
          f"{len(during)}, max {max(during, default=0) * 1000:.0f} ms ({_msl(during)})")
    # Every refusal came back within the runner's time bound, refused (refuse_until checked
    # each error box), whichever cap it hit.
    cap = Limits().seconds
    assert max(b_runs) < cap, f"a refused program took {max(b_runs):.1f} s (cap {cap} s)"
    # The bound on A. The server runs every session's script in one process (one GIL), so
    # a neighbour that reruns back to back with no pause takes half of it whatever its
    # reruns do: A's fair share alone makes 2x idle the expectation, not a margin, and
    # switching the GIL between the two sessions' threads costs a little more (measured
    # 1.4-2.3x here, medians of 16 interleaved samples; a refused rerun costs what any
    # rerun does, the page still showing the last program that ran). A bare 2x fails on
    # that alone; 3x still fails when a refusal holds what A needs: a lock, the GIL in a
    # long C call, the CPU past its cap.
    # The bound, for refused programs as a person (or a script pausing between
    # tries) sends them: A's median step within 2x idle.
    assert paced <= 2 * idle, (
        f"A's median step went from {idle:.3f} s idle to {paced:.3f} s while B submitted a "
        f"refused program every {PACE} s (bound 2 x)")
    assert refused <= 3 * idle, (
        f"A's median step went from {idle:.3f} s idle to {refused:.3f} s while B submitted "
        f"refused programs (bound 3 x)")
    # The heavy program: A's steps kept completing, each showing A's own graph and step
    # (step_a checked every run), at A's fair share, and none waited for most of B's run.
    assert heavy.step == (0, HEAVY_CHAIN + 1) and not heavy.errors, (heavy.step,
                                                                 heavy.errors)
    assert len(during) >= 3, f"A completed {len(during)} steps during B's {heavy.duration:.1f} s"
    assert statistics.median(during) <= 3 * idle, (
        f"A's median step was {statistics.median(during):.3f} s during B's heavy run, "
        f"{idle:.3f} s idle (bound 3 x)")
    assert max(during) < max(heavy.duration / 2, 3 * idle), (
        f"A's step took {max(during):.1f} s during B's {heavy.duration:.1f} s heavy run")


def _msl(values):
    return ", ".join(f"{v * 1000:.0f}" for v in values) + " ms"


# --- 3. memory over many reruns --------------------------------------------------------------

# The issue asks for 1000 reruns under 50 MB. A rerun of the landing page costs the server
# 0.25-0.3 s here, so 1000 take 4-5 minutes: bench/bench_memory.py does the full 1000 and prints
# the figure; this test does RERUNS and holds them to the same rate (50 MB per 1000).
RERUNS = 120
WARMUP = 20


def test_server_memory_stays_flat_over_stepping_reruns(tmp_path):
    n = steps_of(PRESETS[DEFAULT].code, PRESETS[DEFAULT].root)
    srv = Server(tmp_path / "streamlit.log")  # its own server: nothing else has run in it

    def check(i, key, run):
        expected = {"next": 1, "end": n, "reset": 0}[key]
        assert run.step == (expected, n) and not run.errors, (i, key, run.step, run.errors)
        assert run.has("AccumulateGrad"), (i, key)

    async def main():
        async with Session(srv.url) as s:  # the landing page: the default preset
            first = await s.rerun()
            assert first.step == (0, n) and not first.errors, (first.step, first.errors)
            return await measure_memory(srv, s, ["next", "end", "reset"], WARMUP, RERUNS,
                                        check=check)

    try:
        m = asyncio.run(main())
    finally:
        code = srv.stop()
    assert code is None, f"the server died ({code}):\n{srv.tail()}"
    bound = 50 * RERUNS / 1000
    print(f"\n[load] {RERUNS} stepping reruns (next/end/reset) after {WARMUP} warm-up: "
          f"{m.elapsed:.1f} s ({m.rate:.1f} reruns/s); server RSS {m.before:.1f} -> "
          f"{m.after:.1f} MB ({m.growth:+.1f} MB, peak {m.peak:.1f} MB; bound {bound:.0f} MB)")
    assert m.growth < bound, f"RSS grew {m.growth:.1f} MB over {RERUNS} reruns\n{m.table()}"
