"""What a worker process does: one job, under OS limits, then it exits.

This module is the warm parent's preload (see :mod:`autoviz.worker`): importing it imports
torch and pygraphviz once, so each worker forked from that parent starts with both loaded.
It does no torch work at import, so no thread pool exists yet when a worker is forked.
"""

from __future__ import annotations

import os
import pickle
import resource
import tempfile
from typing import Any, Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch: its pools read it once
os.environ.setdefault("MKL_NUM_THREADS", "1")

import torch  # noqa: E402

try:  # the layout jobs; a worker without it reports LayoutError when asked
    import pygraphviz  # noqa: F401
except ImportError:  # pragma: no cover - the wheel is in requirements.txt
    pass

from autoviz.drawing import layout  # noqa: E402
from autoviz.lesson.lab import make_study  # noqa: E402
from autoviz.lesson.numeric import finite_differences  # noqa: E402
from autoviz.runner.limits import Limits  # noqa: E402


def study(source: str, root: str | None, gradient: str | None, retain: bool,
          actions: tuple[str, ...], which: int = 0, *, where: Any = None,
          limits: Limits | None = None) -> Any:
    return make_study(source, root, gradient, retain, actions, where, limits, which=which)


def numeric(source: str, root: str | None, gradient: str | None, *, where: Any = None,
            limits: Limits | None = None) -> Any:
    return finite_differences(source, root, gradient, limits, where)


def lay_out(dot: str) -> str:
    return layout.lay_out(dot)


def render(dot: str, fmt: str) -> bytes:
    return layout.render(dot, fmt)


JOBS: dict[str, Callable[..., Any]] = {"study": study, "numeric": numeric,
                                       "layout": lay_out, "render": render}
# Bytes a job may write to files: none for a program; pygraphviz reads DOT text through a
# temporary file, which goes to the job's own folder (removed by the parent afterwards).
FILE_BYTES: dict[str, int] = {"study": 0, "numeric": 0, "layout": 64 * 2**20,
                              "render": 64 * 2**20}
# Jobs that run a program: they keep ``where`` at its line and take the pool's Limits
PROGRAM_JOBS = frozenset({"study", "numeric"})


def _vm_size() -> int:
    """Bytes of address space this process has mapped (the warm parent's, after fork)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def confine(limits: Limits, folder: str, file_bytes: int = 0) -> None:
    """OS limits, set before any user input is touched: address space (``memory_bytes``
    beyond what is mapped already), CPU seconds, no core file, no file writes (beyond
    ``file_bytes``, in ``folder``), an empty working and temporary folder, one torch
    thread, no inherited standard streams."""
    memory = _vm_size() + limits.memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(limits.job_seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    os.chdir(folder)
    tempfile.tempdir = folder
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    torch.set_num_threads(limits.torch_threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already started: it can only be set once per process
        pass


def child(conn: Any, kind: str, args: tuple, limits: Limits, folder: str,
          where: Any = None) -> None:
    """A worker's whole life: confine, run the job, send its pickled result, exit without
    freeing anything (torch frees a deep graph recursively: exiting skips that).
    ``where``: a shared value a program job keeps at the line it runs."""
    try:
        confine(limits, folder, FILE_BYTES[kind])
        # the runner's caps are the pool's too: one Limits
        extra = {"where": where, "limits": limits} if kind in PROGRAM_JOBS else {}
        outcome: tuple[str, Any] = ("ok", JOBS[kind](*args, **extra))
    except MemoryError:
        outcome = ("memory", None)
    except layout.LayoutError as exc:
        outcome = ("layout", str(exc))
    except BaseException as exc:  # noqa: BLE001 - a job's failure is reported, not raised
        outcome = ("error", f"{type(exc).__name__}: {exc}")
    try:
        data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        data = pickle.dumps(("memory", None))
    except BaseException as exc:  # noqa: BLE001 - e.g. a RecursionError: say so, and exit
        data = pickle.dumps(("error", f"could not send the result ({type(exc).__name__})"))
    try:
        conn.send_bytes(data)
    finally:
        os._exit(0)
