"""Disposable worker processes: every job that touches user input runs in one, once.

A worker serves one job and exits, so nothing of one job (memory, torch state, freed
bytes) reaches the next. Workers are forked from a warm parent, the standard library's
``multiprocessing`` forkserver with :mod:`autoviz.jobs` preloaded (torch and pygraphviz
imported once, no torch work done), so each starts in milliseconds. The child sets its OS
limits before it reads its job (:func:`autoviz.jobs.confine`); the parent bounds the wall
clock with SIGKILL and turns every way a worker can end into a :class:`JobFailed` message.

This module never imports torch: it is what the Streamlit server uses to run programs.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import tempfile
import threading
import time
from dataclasses import replace
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
from typing import Any, Mapping

from autoviz.data import paused_gc
from autoviz.runner.limits import Limits

PRELOAD = ["autoviz.jobs"]
# What a worker's answer may contain: the plain records, by exact name (a dotted name would
# reach through a module's attributes: ``autoviz.data.__builtins__.get``), nothing that runs
# code but ProgramError's own constructor.
_ALLOWED = {
    ("autoviz.data", name) for name in (
        "Value", "TensorInfo", "SavedTensor", "Paths", "GraphNode", "GraphEdge", "Graph",
        "Contribution", "Step", "BackwardTrace", "HookFire")
} | {
    ("autoviz.lesson.study", name) for name in ("Study", "Pass", "ManualCall", "Table")
} | {
    ("autoviz.lesson.numeric", name) for name in ("NumericCheck", "LeafCheck")
} | {("autoviz.runner.errors", "_rebuild")}
_ANSWERS = {"study": "Study", "numeric": "NumericCheck", "layout": "str", "render": "bytes"}
# The largest answer the page takes: the Long chain preset (10,001 nodes) sends 7.6 MB, and
# unpickling costs the server ~50 ms a MB of its GIL; past this a graph is too big to show.
MAX_ANSWER_BYTES = 32 * 2**20
_LOG = logging.getLogger(__name__)


class JobFailed(Exception):
    """A job gave no result. ``message`` is plain words for the page; ``lineno``: the
    program's line its worker was on, if known; ``busy``: it never ran (the server is
    full, or this session's last job is still running): try again; ``transient``: the
    failure says nothing about the program (a worker could not start, or its answer was
    refused), so it is not remembered as the program's result."""

    def __init__(self, message: str, busy: bool = False, lineno: int | None = None,
                 transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.busy = busy
        self.lineno = lineno
        self.transient = busy or transient  # not the program's doing: do not keep it


class _Answer(pickle.Unpickler):
    """Unpickles a worker's answer, refusing any class outside the plain records (a
    worker is not trusted more than the program it ran)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"a worker may not send {module}.{name}")


def _what(kind: str) -> str:
    return {"study": "the program", "numeric": "the finite-difference check",
            "layout": "laying out the graph",
            "render": "drawing the export"}.get(kind, kind)


def _at(line: int) -> str:
    """Where a program was when its worker died (0: past its last line, recording backward
    or reading off the result)."""
    return f" on line {line}" if line else ""


class _Popen(popen_forkserver.Popen):
    """The forkserver's launch, less one step: a child re-imports the parent's main module
    (multiprocessing's "safe importing of main"), and while Streamlit runs the page, the
    main module is the page itself (Streamlit puts it in ``sys.modules["__main__"]``), so
    every worker would import Streamlit, pandas and the page again (~1 s of CPU a job,
    measured). A job needs none of it: its code is in :mod:`autoviz.jobs`, preloaded."""

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buf = io.BytesIO()
        popen_forkserver.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            popen_forkserver.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        parent_w = os.dup(w)  # the child's sentinel of its parent, as the original keeps
        self.finalizer = util.Finalize(self, util.close_fds, (parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _Worker(multiprocessing.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _Popen:  # noqa: N802 - multiprocessing's name
        return _Popen(process_obj)


class Pool:
    """At most ``workers`` jobs at a time, one per session; up to ``waiting`` more wait
    at most ``wait_seconds`` for a free worker, anything beyond is told "busy"."""

    def __init__(self, workers: int = 2, waiting: int = 32, wait_seconds: float = 8.0,
                 limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.workers = workers
        self.waiting = waiting
        self.wait_seconds = wait_seconds
        self.started = 0  # jobs started since the pool was made
        self._slots = threading.BoundedSemaphore(workers)
        self._lock = threading.Lock()
        self._queued = 0
        self._sessions: set[str] = set()
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)

    def warm(self) -> None:
        """Start the warm parent now (it imports torch once, ~1-2 s), not on a first job.
        A failure is logged; the next job reports it as its own."""
        try:
            forkserver.ensure_running()
        except OSError:
            _LOG.exception("could not start the workers' warm parent")

    def run(self, kind: str, *args: Any, session: str | None = None,
            seconds: float | None = None, wait: bool = True) -> Any:
        """Run job ``kind`` (see :data:`autoviz.jobs.JOBS`) in a fresh worker; return its
        result or raise :class:`JobFailed` (``wait=False``: busy at once if no worker is
        free)."""
        self._enter(session, wait)
        try:
            with self._lock:
                self.started += 1
            return self._spawn(kind, args, seconds or self.limits.job_seconds)
        finally:
            self._slots.release()
            if session is not None:
                with self._lock:
                    self._sessions.discard(session)

    def _enter(self, session: str | None, wait: bool = True) -> None:
        with self._lock:
            if session is not None and session in self._sessions:
                raise JobFailed("your last request is still running; try again in a moment",
                                busy=True)
            got = self._queued == 0 and self._slots.acquire(blocking=False)
            if not got and (not wait or self._queued >= self.waiting):
                raise JobFailed("the server is busy; try again in a moment", busy=True)
            if session is not None:
                self._sessions.add(session)
            if not got:
                self._queued += 1
        if got:
            return
        got = self._slots.acquire(timeout=self.wait_seconds)
        with self._lock:
            self._queued -= 1
            if not got and session is not None:
                self._sessions.discard(session)
        if not got:
            raise JobFailed("the server is busy; try again in a moment", busy=True)

    def _spawn(self, kind: str, args: tuple, seconds: float) -> Any:
        try:
            receive, send = self._context.Pipe(duplex=False)
            where = self._context.RawValue("i", 0)  # the program's line, kept by the worker
            folder = tempfile.TemporaryDirectory(prefix="autoviz-job-")
        except OSError as exc:
            raise JobFailed(f"the server could not start a worker ({exc})",
                            transient=True) from None
        with folder:
            process = _Worker(target=_child_entry,
                              args=(send, kind, args, self.limits, folder.name, where),
                              daemon=True)
            try:
                process.start()
            except (OSError, EOFError) as exc:
                receive.close()
                raise JobFailed(f"the server could not start a worker ({exc!r})",
                                transient=True) from None
            finally:
                send.close()
            try:
                data = self._receive(receive, process, kind, seconds, where)
            finally:
                receive.close()
                if process.is_alive():
                    process.kill()
                process.join()
                process.close()
        return self._result(kind, data)

    def _receive(self, receive: Any, process: Any, kind: str, seconds: float,
                 where: Any) -> bytes:
        deadline = time.monotonic() + seconds
        if not receive.poll(seconds):
            process.kill()
            process.join()
            raise JobFailed(f"{_what(kind)} was stopped after {seconds:g} s{_at(where.value)}",
                            lineno=where.value or None)
        try:
            return receive.recv_bytes(MAX_ANSWER_BYTES)
        except OSError:  # longer than MAX_ANSWER_BYTES ("bad message length")
            process.kill()
            raise JobFailed(f"{_what(kind)} made a graph too large to show here (more than "
                            f"{MAX_ANSWER_BYTES // 2**20} MB to send to the page); try "
                            "fewer steps") from None
        except EOFError:
            process.join(max(0.0, deadline - time.monotonic()) + 1)
            code = process.exitcode
            raise JobFailed(self._death(kind, code, _at(where.value)),
                            lineno=where.value or None,
                            transient=code is None or code >= 0) from None

    def _death(self, kind: str, code: int | None, at: str) -> str:
        gb, what = self.limits.memory_bytes / 2**30, _what(kind)
        if code == -signal.SIGSEGV:
            return (f"torch crashed{at} while running {what} (segmentation fault); the "
                    "server and other sessions are fine")
        if code == -signal.SIGXCPU:
            return f"{what} used more than {self.limits.job_seconds:g} s of CPU{at}"
        if code == -signal.SIGKILL:
            return f"{what} was stopped{at}: it needed more than {gb:g} GB of memory"
        if code is not None and code < 0 and -code in signal.valid_signals():
            return f"{what} was stopped{at} by signal {signal.Signals(-code).name}"
        return f"{what} ended without an answer (exit code {code})"

    def _result(self, kind: str, data: bytes) -> Any:
        try:
            with paused_gc():  # tens of thousands of records, none in a cycle
                status, value = _Answer(io.BytesIO(data)).load()
        except Exception as exc:
            raise JobFailed(f"a worker's answer was refused ({exc})", transient=True) from None
        if status == "ok":
            if type(value).__name__ != _ANSWERS.get(kind):
                raise JobFailed(f"a worker's answer was refused (a {type(value).__name__})",
                                transient=True)
            return value
        if status == "memory":
            gb = self.limits.memory_bytes / 2**30
            raise JobFailed(f"{_what(kind)} needed more than {gb:g} GB of memory")
        if status == "layout":
            from autoviz.drawing.layout import LayoutError

            raise LayoutError(str(value))
        raise JobFailed(f"{_what(kind)} failed in its worker: {value}")


def _child_entry(conn: Any, kind: str, args: tuple, limits: Limits, folder: str,
                 where: Any) -> None:
    if "autoviz.jobs" not in sys.modules:  # the warm parent failed to preload it
        conn.send_bytes(pickle.dumps(("error", "the workers' warm parent could not import "
                                      "autoviz.jobs (see the server's log)")))
        os._exit(0)
    from autoviz.jobs import child

    child(conn, kind, args, limits, folder, where)


_pool: Pool | None = None
_pool_lock = threading.Lock()


def settings(env: Mapping[str, str]) -> tuple[int, Limits]:
    """The pool's size and the workers' limits, from the deployment's environment:
    ``AUTOVIZ_WORKERS`` (2), ``AUTOVIZ_MEMORY_MB`` (2048), ``AUTOVIZ_JOB_SECONDS`` (20),
    ``AUTOVIZ_LAYOUT_SECONDS`` (15)."""
    base = Limits()
    limits = replace(
        base,
        memory_bytes=int(env.get("AUTOVIZ_MEMORY_MB", base.memory_bytes // 2**20)) * 2**20,
        job_seconds=float(env.get("AUTOVIZ_JOB_SECONDS", base.job_seconds)),
        layout_seconds=float(env.get("AUTOVIZ_LAYOUT_SECONDS", base.layout_seconds)))
    return max(1, int(env.get("AUTOVIZ_WORKERS", "2"))), limits


def pool() -> Pool:
    """The process's pool, made on first use (see :func:`settings`)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            workers, limits = settings(os.environ)
            _pool = Pool(workers=workers, limits=limits)
        return _pool


def study(source: str, root: str | None, gradient: str | None, retain: bool,
          actions: tuple[str, ...], session: str | None = None, wait: bool = True,
          which: int = 0) -> Any:
    """:func:`autoviz.lesson.lab.make_study` in a worker: a :class:`~autoviz.lesson.study.Study`."""
    return pool().run("study", source, root, gradient, retain, actions, which,
                      session=session, wait=wait)


def numeric(source: str, root: str | None, gradient: str | None,
            session: str | None = None) -> Any:
    """:func:`autoviz.lesson.numeric.finite_differences` in a worker: a
    :class:`~autoviz.lesson.numeric.NumericCheck`."""
    return pool().run("numeric", source, root, gradient, session=session)


def lay_out(dot: str) -> str:
    """:func:`autoviz.drawing.layout.lay_out` in a worker."""
    return pool().run("layout", dot, seconds=pool().limits.layout_seconds)


def render(dot: str, fmt: str, session: str | None = None) -> bytes:
    """:func:`autoviz.drawing.layout.render` (an SVG or PNG export) in a worker."""
    return pool().run("render", dot, fmt, session=session,
                      seconds=pool().limits.layout_seconds)
