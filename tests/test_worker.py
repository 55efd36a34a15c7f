"""The worker processes: OS limits, every way a worker can end, bounded concurrency, and the
plain Study that crosses to the server (which never imports torch)."""

import io
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from stclient import process_tree

from autoviz import worker
from autoviz.lesson.lab import make_study
from autoviz.lesson.presets import PRESETS
from autoviz.runner.limits import Limits

ROOT = Path(__file__).resolve().parents[1]
# one C call of 12-18 s: torch prints all 1.7 million numbers. The runner refuses it by
# its output cap; these pools' caps allow it, to show the wall clock at work.
HUGE_PRINT = "import torch\nprint(torch.ones(6, 6, 6, 6, 6, 6, 6, 6))\n"
LOUD = {"output_chars": 10**8}
SMALL = "import torch\na = torch.tensor([3.], requires_grad=True)\nO = 5 * a ** 2\n"


def workers_now():
    """The worker processes running now: the forkserver's children."""
    from multiprocessing import forkserver

    server = forkserver._forkserver._forkserver_pid
    return [p for p, fields in process_tree(server).items()
            if int(fields[1]) == server] if server else []


def works(pool):
    study = pool.run("study", SMALL, None, None, True, ())
    assert study.ok and [s.name for s in study.trace.steps][-1].endswith("AccumulateGrad")
    assert study.manual_call(1).result == "(tensor([5.]), None)"


def test_a_job_runs_in_another_process_and_returns_plain_data():
    pool = worker.Pool()
    study = pool.run("study", PRESETS["seed_network"].code, None, None, True, ())
    assert study.ok and study.root == "loss" and len(study.trace.steps) == 6
    names = [s.name for s in study.trace.steps]
    assert names[0] == "BinaryCrossEntropyWithLogitsBackward0"
    assert study.tables["leaf_grads"].columns == ("leaf", "shape", "grad")
    assert study.calls[0].called and "tensor(" in study.calls[0].result


def test_a_program_over_the_memory_limit_gets_a_message_and_the_next_job_works():
    pool = worker.Pool(limits=Limits(memory_bytes=256 * 2**20, tensor_bytes=10**8,
                                     total_bytes=10**9))
    code = ("import torch\na = torch.ones(8000000, dtype=torch.float64)\nb = a + 1\n"
            "c = b + 1\nd = c + 1\ne = d + 1\n")  # 64 MB each: fine for the caps, not the OS
    study = pool.run("study", code, None, None, True, ())
    assert study.error is not None and study.error.lineno in (3, 4, 5, 6)
    assert "memory" in study.error.message, study.error.message
    works(pool)


def test_a_single_c_call_past_the_wall_clock_is_killed_and_the_next_job_works():
    pool = worker.Pool(limits=Limits(job_seconds=2, **LOUD))
    start = time.monotonic()
    with pytest.raises(worker.JobFailed,
                       match="^the program was stopped after 2 s on line 2$") as failed:
        pool.run("study", HUGE_PRINT, None, None, True, ())
    assert not failed.value.busy and failed.value.lineno == 2
    assert time.monotonic() - start < 4
    assert not workers_now()  # killed and reaped
    works(pool)


def test_a_worker_that_segfaults_becomes_a_message_and_the_next_job_works():
    pool = worker.Pool(limits=Limits(job_seconds=30, **LOUD))
    caught = []

    def run():
        try:
            pool.run("study", HUGE_PRINT, None, None, True, ())
        except worker.JobFailed as exc:
            caught.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while not workers_now() and time.monotonic() < deadline:
        time.sleep(0.05)
    (pid,) = workers_now()
    time.sleep(0.5)  # inside the print
    os.kill(pid, signal.SIGSEGV)  # what a crash inside torch does to the process
    thread.join(10)
    (exc,) = caught
    assert exc.message.startswith("torch crashed on line 2 while running the program "
                                  "(segmentation fault)"), exc.message
    works(pool)


def test_a_full_pool_says_busy_at_once_and_one_session_runs_one_job():
    pool = worker.Pool(workers=1, waiting=0, limits=Limits(job_seconds=3, **LOUD))
    thread = threading.Thread(target=lambda: pytest.raises(
        worker.JobFailed, pool.run, "study", HUGE_PRINT, None, None, True, (), session="s1"))
    thread.start()
    deadline = time.monotonic() + 10
    while not workers_now() and time.monotonic() < deadline:
        time.sleep(0.05)
    start = time.monotonic()
    with pytest.raises(worker.JobFailed, match="still running") as same:
        pool.run("study", SMALL, None, None, True, (), session="s1")
    with pytest.raises(worker.JobFailed, match="busy") as other:
        pool.run("study", SMALL, None, None, True, (), session="s2")
    assert same.value.busy and other.value.busy and time.monotonic() - start < 0.5
    thread.join(10)
    works(pool)  # the slot and the session are free again


def test_a_waiting_job_gets_the_next_free_worker():
    pool = worker.Pool(workers=1, waiting=4, wait_seconds=10)
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        pool.run("study", SMALL, None, None, True, ()))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 3 and all(r.ok for r in results) and pool.started == 3


@pytest.mark.parametrize("key", ["scalar", "mlp", "mistake_detach", "deep"])
def test_a_study_round_trips_through_the_workers_unpickler(key):
    preset = PRESETS[key]
    study = make_study(preset.code, preset.root)
    back = worker._Answer(io.BytesIO(pickle.dumps(("ok", study)))).load()[1]
    if study.error is not None:
        assert (back.error.message, back.error.lineno, back.error.refused) == (
            study.error.message, study.error.lineno, study.error.refused)
        return
    assert back == study  # every field: graph, trace (Values), calls, tables, texts


def _global(module, name):
    """A protocol-4 pickle of just ``module.name`` (a dotted name walks attributes)."""
    def text(s):
        return b"\x8c" + bytes([len(s)]) + s.encode()
    return b"\x80\x04" + text(module) + text(name) + b"\x93."


@pytest.mark.parametrize("data", [
    pickle.dumps(("ok", os.system)),
    _global("autoviz.data", "__builtins__.get"),  # -> eval, reached through a module
    _global("autoviz.data", "__loader__.__class__.set_data"),  # writes any file
    _global("autoviz.data", "text"),  # a function that would import torch here
    pickle.dumps(("ok", "a text where a Study belongs")),
])
def test_the_unpickler_refuses_anything_but_plain_records(data):
    with pytest.raises(worker.JobFailed, match="a worker's answer was refused") as refused:
        worker.Pool()._result("study", data)
    assert refused.value.transient  # never remembered as the program's result


def _report_limits(conn, folder):
    from autoviz import jobs

    jobs.confine(Limits(memory_bytes=300 * 2**20, job_seconds=5), folder)
    import resource

    import torch

    conn.send({"as": resource.getrlimit(resource.RLIMIT_AS)[0],
               "fsize": resource.getrlimit(resource.RLIMIT_FSIZE)[0],
               "core": resource.getrlimit(resource.RLIMIT_CORE)[0],
               "cpu": resource.getrlimit(resource.RLIMIT_CPU)[0],
               "cwd": os.getcwd(), "files": os.listdir("."),
               "threads": torch.get_num_threads()})


def test_a_worker_is_confined_before_it_reads_its_job(tmp_path):
    context = multiprocessing.get_context("forkserver")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_report_limits, args=(send, str(tmp_path)))
    process.start()
    got = receive.recv()
    process.join()
    assert got["fsize"] == 0 and got["core"] == 0 and got["cpu"] == 6
    assert 300 * 2**20 < got["as"] < 300 * 2**20 + 4 * 2**30  # beyond what was mapped
    assert got["cwd"] == str(tmp_path) and got["files"] == [] and got["threads"] == 1


def test_the_server_never_imports_torch_or_graphviz():
    """The page, run as the server runs it (AppTest in a fresh interpreter): a graph is
    drawn and stepped, the manual call's result shown; torch stayed out of the process."""
    script = textwrap.dedent(f"""
        import sys
        from streamlit.testing.v1 import AppTest

        if __name__ == "__main__":
            at = AppTest.from_file({str(ROOT / "page.py")!r}, default_timeout=60)
            at.run()
            assert not at.exception, at.exception
            at.button(key="next").click().run()
            code = "\\n".join(c.value for c in at.code)
            assert "tensor([5.])" in code, code
            print("torch" in sys.modules, "pygraphviz" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=ROOT, timeout=180, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["False", "False"], out.stdout


def test_a_worker_does_not_import_the_servers_main_module(tmp_path, monkeypatch):
    """While Streamlit runs the page, the page is ``__main__``; multiprocessing's children
    would import it again (~1 s a job). A worker must not."""
    import types

    marker = tmp_path / "imported"
    script = tmp_path / "fake_page.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    works(worker.Pool())
    assert not marker.exists()
