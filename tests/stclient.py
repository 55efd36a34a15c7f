"""A small Streamlit client speaking the browser's own websocket protocol (no browser).

It talks to ``ws://HOST:PORT/_stcore/stream`` (subprotocol ``streamlit``) the way Streamlit's
frontend does: it sends ``BackMsg`` protobufs (``rerun_script`` with the query string and the
widget states) and reads ``ForwardMsg`` protobufs (``new_session``, ``delta``, ...,
``script_finished``). What the server does per rerun is exactly what it does for a browser;
nothing is drawn here, so what is measured is the server.

    async with Session(base_url, query_string) as s:
        run = await s.rerun()            # the first run, like opening the page
        run = await s.click("next")      # a button, by its user key
        run = await s.set_text("gradient", "torch.ones(3)")   # a text_area / text_input
        run = await s.send("program_view", "code", "import torch\\n...")  # a component's event
        run.step, run.errors, run.duration, run.has(b"TanhBackward0")

A button is clicked the way the browser does it: a ``trigger_value`` for the widget id the
server sent (``$$ID-<hash>-<user key>``), the query string the server last put in the address
bar (``page_info_changed``), and the page's script hash. Widgets the run does not mention
keep their values on the server, as they do when the browser resends unchanged values.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

ROOT = Path(__file__).resolve().parents[1]
STREAM = "/_stcore/stream"
FINISHED = {
    ForwardMsg.FINISHED_SUCCESSFULLY: "ok",
    ForwardMsg.FINISHED_WITH_COMPILE_ERROR: "compile error",
    ForwardMsg.FINISHED_EARLY_FOR_RERUN: "stopped early for a rerun",
    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY: "fragment ok",
}
_STEP = re.compile(rb"Step (\d+) of (\d+)")
_TEXT_FIELDS = ("body", "code_text", "message", "label", "help")


class ProtocolError(AssertionError):
    """The server did something a browser would not accept (or the client misused it)."""


@dataclass
class Widget:
    id: str
    kind: str  # the element type: "button", "text_area", ...
    disabled: bool


@dataclass
class Run:
    """Everything the server sent for one script run, from ``new_session`` to
    ``script_finished``."""

    sent: float  # time.perf_counter() when the BackMsg went out
    messages: list[ForwardMsg] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    status: str | None = None
    duration: float = 0.0  # from sending the rerun to script_finished
    payload: bytes = b""  # every delta of the run, serialized, concatenated
    texts: list[str] = field(default_factory=list)  # markdown / alert / code / ... strings
    errors: list[str] = field(default_factory=list)  # error alerts and exceptions
    widgets: dict[str, Widget] = field(default_factory=dict)  # by user key
    query_string: str | None = None  # the address bar, if the run changed it

    def has(self, marker: str | bytes) -> bool:
        """Whether ``marker`` occurs anywhere in the run's elements (DOT, SVG, component
        arguments, tables and texts alike: a plain byte search of the serialized deltas)."""
        data = marker.encode() if isinstance(marker, str) else marker
        return data in self.payload

    @property
    def step(self) -> tuple[int, int] | None:
        """(k, n) from the first "Step k of n" in the run's texts (markdown, ...), else
        anywhere in its elements (a component's arguments, say), or None."""
        for text in self.texts:
            found = _STEP.search(text.encode())
            if found:
                return int(found[1]), int(found[2])
        found = _STEP.search(self.payload)
        return (int(found[1]), int(found[2])) if found else None


def _element_text(element: object) -> list[str]:
    out = []
    for name in _TEXT_FIELDS:
        if name in type(element).DESCRIPTOR.fields_by_name:
            value = getattr(element, name)
            if isinstance(value, str) and value:
                out.append(value)
    return out


def _digest(run: Run) -> None:
    """Texts, errors and widgets of a finished run."""
    chunks = []
    for msg in run.messages:
        if msg.WhichOneof("type") != "delta":
            continue
        chunks.append(msg.delta.SerializeToString())
        if msg.delta.WhichOneof("type") != "new_element":
            continue
        element = msg.delta.new_element
        kind = element.WhichOneof("type")
        if kind is None:
            continue
        proto = getattr(element, kind)
        run.texts.extend(_element_text(proto))
        if kind == "alert" and proto.format == Alert.ERROR:
            run.errors.append(f"error box: {proto.body}")
        elif kind == "exception":
            run.errors.append(f"exception: {proto.type}: {proto.message}")
        fields = type(proto).DESCRIPTOR.fields_by_name
        if "id" in fields and proto.id.startswith("$$ID-"):
            key = proto.id.split("-", 2)[2]
            run.widgets[key] = Widget(proto.id, kind,
                                      bool(proto.disabled) if "disabled" in fields else False)
    run.payload = b"".join(chunks)
    if run.status != "ok":
        run.errors.append(f"script finished: {run.status}")


class Session:
    """One browser tab's worth of Streamlit session, over one websocket."""

    def __init__(self, base_url: str, query_string: str = "", timeout: float = 300.0) -> None:
        self.url = base_url.replace("http://", "ws://").rstrip("/") + STREAM
        self.query_string = query_string.lstrip("?")
        self.timeout = timeout  # per run: a run that takes longer fails the caller
        self.page_script_hash = ""
        self.widgets: dict[str, Widget] = {}
        self.ws = None
        self.runs = 0
        self.last: Run | None = None  # the latest run

    async def connect(self) -> Session:
        # No pings from this side, as from a browser (it only answers the server's).
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"],
                                           max_size=None, open_timeout=self.timeout,
                                           ping_interval=None)
        return self

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def __aenter__(self) -> Session:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def rerun(self, widgets: list[WidgetState] | None = None) -> Run:
        """Send one rerun_script and collect that run up to its script_finished."""
        if self.ws is None:
            raise ProtocolError("not connected")
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query_string
        state.page_script_hash = self.page_script_hash
        for widget in widgets or ():
            state.widget_states.widgets.append(widget)
        run = Run(sent=time.perf_counter())
        await self.ws.send(msg.SerializeToString())
        await asyncio.wait_for(self._collect(run), self.timeout)
        run.duration = time.perf_counter() - run.sent
        _digest(run)
        self.widgets = run.widgets
        if run.query_string is not None:
            self.query_string = run.query_string
        self.runs += 1
        self.last = run
        return run

    async def _collect(self, run: Run) -> None:
        started = False
        while True:
            data = await self.ws.recv()
            at = time.perf_counter()
            msg = ForwardMsg()
            msg.ParseFromString(data)
            kind = msg.WhichOneof("type")
            if kind == "ref_hash":
                raise ProtocolError("a cached-message reference; this client caches nothing")
            if kind == "new_session":  # a run starts (again, after one stopped early)
                started = True
                run.messages.clear()
                run.arrivals.clear()
                self.page_script_hash = (msg.new_session.page_script_hash
                                         or msg.new_session.main_script_hash)
            if not started:
                continue  # the tail of an earlier run
            run.messages.append(msg)
            run.arrivals.append(at)
            if kind == "page_info_changed":
                run.query_string = msg.page_info_changed.query_string
            elif kind == "script_finished":
                run.status = FINISHED.get(msg.script_finished, str(msg.script_finished))
                if msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    return

    def widget(self, key: str) -> Widget:
        found = self.widgets.get(key)
        if found is None:
            raise ProtocolError(f"no widget keyed {key!r} on the page "
                                f"(have: {sorted(self.widgets)})")
        return found

    async def click(self, key: str) -> Run:
        """Click the button keyed ``key`` (refused, as in a browser, when it is disabled)."""
        widget = self.widget(key)
        if widget.disabled:
            raise ProtocolError(f"button {key!r} is disabled")
        return await self.rerun([WidgetState(id=widget.id, trigger_value=True)])

    async def set_text(self, key: str, value: str) -> Run:
        """Type ``value`` into the text_area / text_input keyed ``key`` and commit it."""
        widget = self.widget(key)
        return await self.rerun([WidgetState(id=widget.id, string_value=value)])

    async def send(self, key: str, event: str, value: object) -> Run:
        """What the custom component keyed ``key`` sends on ``setTriggerValue(event, value)``:
        one JSON list of payloads for its trigger widget."""
        widget = self.widget(key)
        trigger = _make_trigger_id(widget.id, "events")
        return await self.rerun([WidgetState(
            id=trigger, json_trigger_value=json.dumps([{"event": event, "value": value}]))])

    async def set_code(self, code: str) -> Run:
        """Type ``code`` into the page's program editor and run it (Ctrl+Enter)."""
        return await self.send("program_view", "code", code)


# --- the real server -------------------------------------------------------------------------

def process_tree(pid: int) -> dict[int, list[str]]:
    """``pid`` and all its descendants (a server's workers, say), each with the fields of
    its /proc/<pid>/stat after the command name."""
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stats[int(entry)] = f.read().rsplit(")", 1)[1].split()
            except OSError:
                pass
    tree, frontier = {pid}, [pid]
    while frontier:
        current = frontier.pop()
        for child, fields in stats.items():
            if int(fields[1]) == current and child not in tree:
                tree.add(child)
                frontier.append(child)
    return {p: stats[p] for p in tree if p in stats}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``streamlit run app.py`` on 127.0.0.1 in a child process (the app's own
    .streamlit/config.toml), its output in ``log``. ``pid`` is the Streamlit process itself
    (no shell between).

    Streamlit's file watcher is off: with it on, a source file saved while the server runs
    makes Streamlit drop the app's modules from ``sys.modules`` at the next rerun, and
    sessions importing them at that moment on other threads fail (seen here while the tree
    was being edited: ``KeyError: 'autoviz'`` from inside the import). The tests measure the
    server, not a developer's reload."""

    def __init__(self, log: Path, app: Path = ROOT / "app.py", startup: float = 90.0,
                 flags: tuple[str, ...] = ("--server.fileWatcherType=none",)) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._out = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(app),
             "--server.headless=true", "--server.address=127.0.0.1",
             f"--server.port={self.port}", "--browser.gatherUsageStats=false", *flags],
            cwd=ROOT, stdout=self._out, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.pid = self.proc.pid
        deadline = time.monotonic() + startup
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"streamlit did not become healthy:\n{self.tail()}")
            time.sleep(0.3)

    def tail(self, chars: int = 3000) -> str:
        self._out.flush()
        return self.log.read_text()[-chars:]

    def log_size(self) -> int:
        self._out.flush()
        return self.log.stat().st_size

    def log_since(self, offset: int) -> str:
        self._out.flush()
        with self.log.open() as f:
            f.seek(offset)
            return f.read()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_mb(self) -> float:
        """The server process's resident set size now (VmRSS), in MB."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for process {self.pid}")

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (user + system), in seconds."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> int | None:
        """Stop the server; returns its exit code if it had already died, else None."""
        code = self.proc.poll()
        if code is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self._out.close()
        return code


# --- memory over many reruns ----------------------------------------------------------------

@dataclass
class MemoryRun:
    """RSS of the server over ``reruns`` clicks after ``warmup`` ones (MB, seconds)."""

    warmup: int
    reruns: int
    before: float  # RSS after the warm-up
    after: float
    peak: float
    elapsed: float  # seconds for the measured reruns
    samples: list[tuple[int, float, float]]  # (reruns so far, seconds, RSS)

    @property
    def growth(self) -> float:
        return self.after - self.before

    @property
    def rate(self) -> float:
        return self.reruns / self.elapsed

    def table(self) -> str:
        rows = [f"{'reruns':>7} {'seconds':>8} {'RSS MB':>8} {'growth':>7}"]
        rows += [f"{n:>7} {t:>8.1f} {rss:>8.1f} {rss - self.before:>+7.1f}"
                 for n, t, rss in self.samples]
        return "\n".join(rows)


async def measure_memory(server: Server, session: Session, keys: list[str], warmup: int,
                         reruns: int, every: int = 50,
                         check: Callable[[int, str, Run], None] | None = None) -> MemoryRun:
    """Click the buttons ``keys`` in rotation (``warmup`` times, then ``reruns`` times),
    calling ``check(i, key, run)`` on every run; sample the server's RSS every ``every``."""
    i = 0

    async def click() -> None:
        nonlocal i
        key = keys[i % len(keys)]
        run = await session.click(key)
        if check is not None:
            check(i, key, run)
        i += 1

    for _ in range(warmup):
        await click()
    before = server.rss_mb()
    samples = [(0, 0.0, before)]
    start = time.perf_counter()
    for n in range(1, reruns + 1):
        await click()
        if n % every == 0 or n == reruns:
            samples.append((n, time.perf_counter() - start, server.rss_mb()))
    elapsed = time.perf_counter() - start
    return MemoryRun(warmup, reruns, before, samples[-1][2], max(s[2] for s in samples),
                     elapsed, samples)
