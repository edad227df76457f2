"""The zygote forks every worker: each still gets a sandbox of its own, and nothing outlives it.

One module because its tests run their workers on the student module SCENARIOS, written out below
(a quarter of the file), most of them in the `zygote` fixture's; a split would need both twice.
"""

import contextlib
import os
import threading
import time

import pytest

from coursekit.config import Sandbox
from coursekit.grading import bubblewrap, sandbox
from coursekit.grading.process import WorkerFailure, WorkerProcess, WorkerSpec
from coursekit.grading.zygote_client import ZygoteClient, ZygoteFailure

needs_bubblewrap = pytest.mark.skipif(bubblewrap.bubblewrap_problem() is not None, reason="no sandbox here")

SCENARIOS = '''
import os, subprocess


def plant(student):
    """Leave a process, a file in /tmp and a file in the working folder behind."""
    subprocess.Popen(["/bin/sleep", "300"], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for path in ("/tmp/planted", "planted"):
        with open(path, "w") as planted:
            planted.write("from an earlier student")
    return sorted(os.listdir("/tmp")), sorted(os.listdir("."))


def kill_everything(student):
    """Signal every process it may: its namespace, its process group, and kill(-1)."""
    import signal
    for kill in (lambda: os.killpg(0, signal.SIGKILL), lambda: os.kill(-1, signal.SIGKILL),
                 lambda: os.kill(os.getppid(), signal.SIGKILL)):
        try:
            kill()
        except OSError:
            pass


def read(student, path):
    """The text of a file (a kept folder under /tmp, here)."""
    with open(path) as source:
        return source.read()


def try_write(student, path):
    """"written", or the name of the error that stopped it."""
    try:
        with open(path, "w") as target:
            target.write("planted")
        return "written"
    except OSError as error:
        return type(error).__name__


def loaded(student, name):
    """Whether a module is imported already when the worker starts."""
    import sys
    return name in sys.modules


def exit_once_waiting(student):
    """Fork a child that keeps every pipe open and sleeps, then end the worker once it waits."""
    import sys, threading, time
    if os.fork() == 0:
        time.sleep(300)
        os._exit(0)
    def exit_when_waiting(main=threading.main_thread().ident):
        while sys._current_frames()[main].f_code.co_name != "_read_exactly":
            time.sleep(0.001)
        os._exit(0)
    threading.Thread(target=exit_when_waiting, daemon=True).start()


def look(student):
    """What a worker sees: processes, /tmp, its working folder, its uid and capabilities."""
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    capabilities = {name: int(status[name], 16) for name in ("CapEff", "CapPrm", "CapAmb", "CapInh")}
    return ([p for p in os.listdir("/proc") if p.isdigit()], sorted(os.listdir("/tmp")),
            sorted(os.listdir(".")), os.getuid(), capabilities, int(status["NoNewPrivs"]))
'''


def kept_under_tmp(*extra):
    """What a worker's private /tmp may show: the folders leading to a Python environment there."""
    return sorted({bubblewrap.Path(root).parts[2] for root in [*bubblewrap.python_roots_under_tmp(), *extra]})


@pytest.fixture
def zygote():
    started = ZygoteClient(sandbox.choose_isolation("bubblewrap"), 8 << 20)
    yield started
    started.close()


def _worker(tmp_path, zygote, preload=()):
    (tmp_path / "probe.py").write_text("VALUE = 1\n")
    (tmp_path / "scenarios.py").write_text(SCENARIOS)
    spec = WorkerSpec(module_name="probe", student_file=tmp_path / "probe.py",
                      scenarios_file=tmp_path / "scenarios.py", limits=Sandbox(scratch_mb=8), preload=preload)
    worker = WorkerProcess(spec, zygote)
    assert worker.start()["status"] == "ready"
    return worker


def _value(reply):
    assert reply["status"] == "ok", reply
    return reply["value"]


@needs_bubblewrap
def test_a_worker_leaves_nothing_behind_for_the_next(tmp_path, zygote):
    first = _worker(tmp_path, zygote)
    planted_tmp, planted_here = _value(first.call("plant"))
    assert "planted" in planted_tmp and "planted" in planted_here
    first.stop()
    second = _worker(tmp_path, zygote)
    try:
        processes, tmp, here, _, _, _ = _value(second.call("look"))
    finally:
        second.stop()
    assert len(processes) == 2                      # its namespace's init and itself: no sleeper
    assert tmp == kept_under_tmp() and "planted" not in here
    assert sorted(here) == ["_kit_scenarios_probe.py", "probe.py"]


@needs_bubblewrap
def test_a_worker_has_no_privileges_left(tmp_path, zygote):
    worker = _worker(tmp_path, zygote)
    try:
        _, _, _, uid, capabilities, no_new_privs = _value(worker.call("look"))
    finally:
        worker.stop()
    assert capabilities == {"CapEff": 0, "CapPrm": 0, "CapAmb": 0, "CapInh": 0} and no_new_privs == 1
    if os.geteuid() == 0:
        assert uid >= sandbox._UNPRIVILEGED_UIDS[0]


@needs_bubblewrap
def test_two_workers_at_once_cannot_see_each_other(tmp_path, zygote):
    first, second = _worker(tmp_path, zygote), _worker(tmp_path, zygote)
    try:
        _value(first.call("plant"))
        processes, tmp, _, _, _, _ = _value(second.call("look"))
    finally:
        first.stop()
        second.stop()
    assert len(processes) == 2 and tmp == kept_under_tmp()


@needs_bubblewrap
def test_a_worker_that_kills_everything_it_can_leaves_the_zygote_serving(tmp_path, zygote):
    first = _worker(tmp_path, zygote)
    try:
        first.call("kill_everything")
    except WorkerFailure as failure:
        assert failure.kind == "crashed"
    finally:
        first.stop()
    second = _worker(tmp_path, zygote)
    try:
        assert len(_value(second.call("look"))[0]) == 2
    finally:
        second.stop()


@needs_bubblewrap
def test_a_worker_that_ends_between_calls_is_seen_without_asking_the_zygote(tmp_path, zygote):
    """Its namespace ends with it, so the child still holding its pipes goes too, and the pipe closes."""
    worker = _worker(tmp_path, zygote)
    try:
        assert worker.alive
        assert _value(worker.call("exit_once_waiting")) is None
        deadline = time.monotonic() + 10
        while worker.alive and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not worker.alive
    finally:
        worker.stop()


@needs_bubblewrap
def test_a_python_environment_under_tmp_stays_visible_in_the_private_tmp(tmp_path, monkeypatch):
    environment = tmp_path / "env"                  # pytest's tmp_path lies under /tmp
    environment.mkdir()
    environment.chmod(0o777)                        # only the read-only mount can stop a write
    (environment / "marker.txt").write_text("the environment")
    real_roots = bubblewrap.python_roots()
    monkeypatch.setattr(bubblewrap, "python_roots", lambda: real_roots + [environment])
    zygote = ZygoteClient(sandbox.choose_isolation("bubblewrap"), 8 << 20)
    worker = _worker(tmp_path, zygote)
    try:
        assert _value(worker.call("read", (str(environment / "marker.txt"),))) == "the environment"
        assert _value(worker.call("try_write", (str(environment / "planted.py"),))) == "OSError"   # EROFS
        assert _value(worker.call("look"))[1] == kept_under_tmp(environment)   # /tmp holds only those
    finally:
        worker.stop()
        zygote.close()


def test_a_closed_zygote_fails_as_the_graders_fault(tmp_path):
    zygote = ZygoteClient(sandbox.Isolation("none"), 8 << 20)
    zygote.close()
    with pytest.raises(ZygoteFailure, match="grading sandbox"):
        zygote.poll(1)


def _live(worker):
    return worker.zygote.poll(worker.worker_id) is None


@needs_bubblewrap
def test_a_connection_reaches_only_its_own_workers_and_closing_it_ends_them(tmp_path, zygote):
    own, other = zygote.connect(), zygote.connect()
    mine, theirs = _worker(tmp_path, own), _worker(tmp_path, other)
    try:
        with pytest.raises(ZygoteFailure, match="no worker"):
            own.kill(theirs.worker_id)
        assert _live(theirs)
        other.close()                       # as when the grading process that held it ends
        deadline = time.monotonic() + 5.0   # the zygote ends its workers as soon as it sees the close
        with pytest.raises((WorkerFailure, ZygoteFailure)):
            while time.monotonic() < deadline:
                theirs.call("look", seconds=5.0)
                time.sleep(0.05)
        assert _live(mine) and len(_value(mine.call("look"))[0]) == 2
    finally:
        with contextlib.suppress(ZygoteFailure):
            theirs.stop()
        mine.stop()
        own.close()


@needs_bubblewrap
def test_a_long_wait_on_one_connection_does_not_hold_up_another(tmp_path, zygote):
    first, second = zygote.connect(), zygote.connect()
    waited = _worker(tmp_path, first)
    try:
        answered = {}
        waiter = threading.Thread(target=lambda: answered.update(exit=first.wait(waited.worker_id, 3.0)))
        started = time.monotonic()
        waiter.start()
        worker = _worker(tmp_path, second)          # spawned, configured and imported meanwhile
        worker.stop()
        assert time.monotonic() - started < 2.5
        waiter.join()
        assert answered == {"exit": None}           # still running after its three seconds
    finally:
        waited.stop()
        first.close()
        second.close()


@needs_bubblewrap
def test_the_zygote_imports_a_preloaded_library_once_for_the_workers_that_name_it(tmp_path, zygote):
    library = "torchvision.transforms.v2"
    plain = _worker(tmp_path, zygote)
    try:
        assert not _value(plain.call("loaded", (library,)))     # a zygote loads no library it was not asked for
    finally:
        plain.stop()
    for preload in ((library,), ()):                             # then every later worker inherits it
        worker = _worker(tmp_path, zygote, preload)
        try:
            assert _value(worker.call("loaded", (library,)))
        finally:
            worker.stop()
