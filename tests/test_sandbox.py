"""The sandbox: how it is chosen, what a worker inside it can see, and the fallback's loud warning."""

import os

import pytest

from coursekit import paths
from coursekit.config import Sandbox
from coursekit.grading import sandbox
from coursekit.grading.process import WorkerFailure, WorkerProcess, WorkerSpec
from coursekit.grading.zygote_client import ZygoteClient

from grader_runs import grade, submission_with


def test_auto_falls_back_loudly_and_bubblewrap_refuses_to(monkeypatch):
    monkeypatch.setattr(sandbox, "bubblewrap_problem", lambda: "bubblewrap (bwrap) is not installed")
    chosen = sandbox.choose_isolation("auto")
    assert chosen.kind == "none" and "NO SANDBOX" in chosen.warning and "not installed" in chosen.warning
    with pytest.raises(sandbox.SandboxUnavailable, match="isolation: bubblewrap"):
        sandbox.choose_isolation("bubblewrap")
    assert "switched off" in sandbox.choose_isolation("none").warning


def test_auto_uses_bubblewrap_where_it_runs(monkeypatch):
    monkeypatch.setattr(sandbox, "bubblewrap_problem", lambda: None)
    assert sandbox.choose_isolation("auto") == sandbox.Isolation("bubblewrap")


def _mounts(arguments):
    return {arguments[i + 2] for i, arg in enumerate(arguments) if arg in ("--ro-bind", "--bind")}


def test_the_python_environment_is_mounted_but_not_the_repository():
    arguments = sandbox._bwrap_arguments("bwrap", sandbox.Path("/staged"), ["batchnorm.py"], as_root=True)
    mounted = _mounts(arguments)
    assert all(not paths.REPO_ROOT.is_relative_to(root) for root in mounted)
    assert "/sandbox/batchnorm.py" in mounted and "--unshare-net" in arguments and "--unshare-pid" in arguments


def test_an_environment_under_tmp_is_mounted_over_the_private_tmp(monkeypatch):
    monkeypatch.setattr(sandbox, "_python_roots", lambda: [sandbox.Path("/tmp/clone/.venv")])
    arguments = sandbox._bwrap_arguments("bwrap", sandbox.Path("/staged"), [], as_root=True)
    assert arguments.index("/tmp") < arguments.index("/tmp/clone/.venv")
    assert arguments.count("/tmp") == 1


def test_an_environment_inside_the_repository_is_mounted_with_the_repository_masked(monkeypatch):
    monkeypatch.setattr(paths, "REPO_ROOT", sandbox.Path("/opt/env/course"))
    monkeypatch.setattr(sandbox, "_python_roots", lambda: [sandbox.Path("/opt/env")])
    arguments = sandbox._bwrap_arguments("bwrap", sandbox.Path("/staged"), [], as_root=True)
    masked = arguments.index("/opt/env/course")
    assert arguments[masked - 1] == "--tmpfs" and masked > arguments.index("/opt/env")


PROBE = '''
import os, socket


def batch_norm(x, *args, **kwargs):
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)
        network = "reached"
    except OSError as error:
        network = type(error).__name__
    leaked = [name for name in os.environ if name.startswith(("PYTEST", "PYTHONPATH", "VIRTUAL_ENV", "CI"))]
    raise RuntimeError(repr((os.getuid(), os.getcwd(), len(pids), network, leaked)))
'''


@pytest.mark.skipif(sandbox.bubblewrap_problem() is not None, reason="no sandbox here")
def test_inside_the_sandbox_a_worker_sees_only_itself(tmp_path):
    folder = submission_with(tmp_path, "probe", PROBE)
    results, _ = grade(folder, select="autograder/test_batchnorm.py::test_training_output_2d",
                       sandbox="bubblewrap", tmp_path=tmp_path)
    uid, cwd, processes, network, leaked = eval(
        results["tests"][0]["output"].split("RuntimeError: ", 1)[1].rsplit(" (at ", 1)[0])
    assert cwd == "/sandbox" and network == "ConnectionRefusedError" and leaked == []
    assert processes == 2                              # bubblewrap's init and the worker
    if os.geteuid() == 0:
        assert uid >= sandbox._UNPRIVILEGED_UIDS[0]
    assert results["extra_data"]["sandbox"] == {"isolation": "bubblewrap", "warning": ""}


def test_without_the_sandbox_grading_warns_in_the_run_and_the_results(tmp_path):
    results, output = grade(solutions=True, select="autograder/test_batchnorm.py::test_backward_2d",
                            sandbox="none", tmp_path=tmp_path)
    assert results["score"] == results["max_score"]
    assert results["extra_data"]["sandbox"]["isolation"] == "none"
    assert "switched off" in results["extra_data"]["sandbox"]["warning"]
    assert "WARNING: the sandbox is switched off" in output


def test_output_beyond_the_cap_ends_the_worker_with_a_clear_reason(tmp_path):
    student = tmp_path / "flood.py"
    student.write_text("import sys\nsys.stdout.write('x' * (3 << 20))\nsys.stdout.flush()\n")
    scenarios = tmp_path / "scenarios.py"
    scenarios.write_text("")
    spec = WorkerSpec(module_name="flood", student_file=student, scenarios_file=scenarios,
                      limits=Sandbox(output_mb=1))
    zygote = ZygoteClient(sandbox.Isolation("none"), 1 << 20)
    worker = WorkerProcess(spec, zygote)
    try:
        with pytest.raises(WorkerFailure, match="printed more than 1 MiB"):
            worker.start()
    finally:
        worker.stop()
        zygote.close()
