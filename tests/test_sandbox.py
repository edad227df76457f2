"""The sandbox: how a tier is chosen, what a worker inside each can see, and the fallback's loud warning."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coursekit import paths
from coursekit.batch.client import GradingServer
from coursekit.config import Sandbox
from coursekit.grading import bubblewrap, landlock_tier, sandbox
from coursekit.grading.process import WorkerFailure, WorkerProcess, WorkerSpec
from coursekit.grading.zygote_client import ZygoteClient

from grader_runs import grade, submission_with


def test_auto_falls_back_loudly_and_a_named_tier_refuses_to(monkeypatch):
    monkeypatch.setattr(sandbox, "bubblewrap_problem", lambda: "bubblewrap (bwrap) is not installed")
    monkeypatch.setattr(sandbox, "_landlock_problem", lambda: "Landlock is not available on this kernel")
    chosen = sandbox.choose_isolation("auto")
    assert chosen.kind == "none" and "NO SANDBOX" in chosen.warning and "not installed" in chosen.warning
    assert "Landlock is not available" in chosen.warning
    with pytest.raises(sandbox.SandboxUnavailable, match="isolation: bubblewrap"):
        sandbox.choose_isolation("bubblewrap")
    with pytest.raises(sandbox.SandboxUnavailable, match="isolation: landlock, but Landlock is not available"):
        sandbox.choose_isolation("landlock")
    assert "switched off" in sandbox.choose_isolation("none").warning


def test_auto_uses_bubblewrap_where_it_runs(monkeypatch):
    monkeypatch.setattr(sandbox, "bubblewrap_problem", lambda: None)
    chosen = sandbox.choose_isolation("auto")
    assert chosen == sandbox.Isolation("bubblewrap") and any("namespaces" in layer for layer in chosen.layers)


def test_auto_uses_the_landlock_tier_where_bubblewrap_cannot_run(monkeypatch):
    monkeypatch.setattr(sandbox, "bubblewrap_problem", lambda: "bwrap: Creating new namespace failed")
    monkeypatch.setattr(sandbox, "_landlock_problem", lambda: None)
    monkeypatch.setattr(landlock_tier, "probe", lambda uid: {"landlock": ["filesystem", "tcp"], "abi": 4,
                                                             "seccomp": None, "leak": None, "network": None})
    chosen = sandbox.choose_isolation("auto")
    assert chosen.kind == "landlock" and chosen.layers[0] == "landlock ABI 4: filesystem, tcp"
    if os.geteuid() != 0:       # a worker on the grader's uid, without Landlock's signal scope
        assert "signals" in chosen.warning and any("signal" in item for item in chosen.not_defended)


def test_the_landlock_tier_reads_around_a_repository_inside_a_system_folder(monkeypatch, tmp_path):
    for folder in ("srv/course/solutions", "srv/other", "srv/course/.venv"):
        (tmp_path / folder).mkdir(parents=True)
    monkeypatch.setattr(landlock_tier, "SYSTEM_DIRS", (str(tmp_path / "srv"),))
    monkeypatch.setattr(landlock_tier, "python_roots", lambda: [tmp_path / "srv" / "course" / ".venv"])
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path / "srv" / "course")
    readable = landlock_tier.readable_paths.__wrapped__(tmp_path / "worker")
    assert str(tmp_path / "srv" / "other") in readable and str(tmp_path / "srv" / "course" / ".venv") in readable
    assert not any(path in (str(tmp_path / "srv"), str(tmp_path / "srv" / "course")) or "solutions" in path
                   for path in readable)


def _mounts(arguments):
    return {arguments[i + 2] for i, arg in enumerate(arguments) if arg in ("--ro-bind", "--bind")}


def test_the_python_environment_is_mounted_but_not_the_repository():
    arguments = bubblewrap.bwrap_arguments("bwrap", bubblewrap.Path("/staged"), ["batchnorm.py"], as_root=True)
    mounted = _mounts(arguments)
    assert all(not paths.REPO_ROOT.is_relative_to(root) for root in mounted)
    assert "/sandbox/batchnorm.py" in mounted and "--unshare-net" in arguments and "--unshare-pid" in arguments


def test_an_environment_under_tmp_is_mounted_over_the_private_tmp(monkeypatch):
    monkeypatch.setattr(bubblewrap, "python_roots", lambda: [bubblewrap.Path("/tmp/clone/.venv")])
    arguments = bubblewrap.bwrap_arguments("bwrap", bubblewrap.Path("/staged"), [], as_root=True)
    assert arguments.index("/tmp") < arguments.index("/tmp/clone/.venv")
    assert arguments.count("/tmp") == 1


def test_an_environment_inside_the_repository_is_mounted_with_the_repository_masked(monkeypatch):
    monkeypatch.setattr(paths, "REPO_ROOT", bubblewrap.Path("/opt/env/course"))
    monkeypatch.setattr(bubblewrap, "python_roots", lambda: [bubblewrap.Path("/opt/env")])
    arguments = bubblewrap.bwrap_arguments("bwrap", bubblewrap.Path("/staged"), [], as_root=True)
    masked = arguments.index("/opt/env/course")
    assert arguments[masked - 1] == "--tmpfs" and masked > arguments.index("/opt/env")


PROBE = '''
import os, socket


def batch_norm(x, *args, **kwargs):
    try:
        processes = len([p for p in os.listdir("/proc") if p.isdigit()])
    except OSError:
        processes = None
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)
        network = "reached"
    except OSError as error:
        network = type(error).__name__
    leaked = [name for name in os.environ if name.startswith(("PYTEST", "PYTHONPATH", "VIRTUAL_ENV", "CI"))]
    raise RuntimeError(repr((os.getuid(), os.getcwd(), processes, network, leaked)))
'''


@pytest.mark.skipif(bubblewrap.bubblewrap_problem() is not None, reason="no sandbox here")
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
    sandbox_record = results["extra_data"]["sandbox"]
    assert sandbox_record["isolation"] == "bubblewrap" and sandbox_record["warning"] == ""
    assert sandbox_record["layers"] and sandbox_record["not_defended"]


DOCKER_LIKE = [sys.executable, str(Path(__file__).with_name("docker_like.py")), "--"]


def test_in_the_landlock_tier_a_worker_sees_only_its_scratch_folder(tmp_path):
    """Graded as in a Docker container (as root: tests/docker_like.py), where bubblewrap cannot run."""
    if os.geteuid() != 0 and landlock_tier.problem(None):
        pytest.skip(f"no Landlock here: {landlock_tier.problem(None)}")
    tmp_path.chmod(0o755)
    folder = submission_with(tmp_path, "probe", PROBE)
    with GradingServer(launcher=DOCKER_LIKE if os.geteuid() == 0 else ()) as server:
        results, _ = grade(folder, select="autograder/test_batchnorm.py::test_training_output_2d",
                           sandbox="landlock", tmp_path=tmp_path, server=server)
    uid, cwd, processes, network, leaked = eval(
        results["tests"][0]["output"].split("RuntimeError: ", 1)[1].rsplit(" (at ", 1)[0])
    assert os.path.basename(cwd).startswith("kit-worker-") and leaked == []
    assert network == "OSError" and processes is None          # no TCP socket; /proc unreadable
    if os.geteuid() == 0:
        assert uid >= sandbox._UNPRIVILEGED_UIDS[0]
    assert results["extra_data"]["sandbox"]["isolation"] == "landlock"
    assert any(layer.startswith("landlock ABI") for layer in results["extra_data"]["sandbox"]["layers"])


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


READER = '''
import os


def batch_norm(x, *args, **kwargs):
    found = []
    for relative in ("course.yml", "solutions/batchnorm/batchnorm.py", "autograder/test_batchnorm.py"):
        try:
            found.append(len(open(os.path.join(KIT_ROOT, relative)).read()))
        except OSError as error:
            found.append(type(error).__name__)
    raise RuntimeError(repr((os.getuid(), found)))
'''


@pytest.mark.skipif(os.geteuid() != 0, reason="locking the course files is for a grader that runs as root")
def test_without_landlock_a_disposable_machine_locks_the_course_files_from_the_workers(tmp_path):
    """On a kernel without Landlock (tests/docker_like.py --no-landlock), as root in a Docker-like
    container, --disposable-machine makes a copy of the course unreadable to the workers' uids."""
    course = tmp_path / "course"
    course.mkdir()
    for name in ("coursekit", "autograder", "solutions", "course.yml"):
        copy = shutil.copytree if (paths.REPO_ROOT / name).is_dir() else shutil.copy
        copy(paths.REPO_ROOT / name, course / name)
    folder = submission_with(tmp_path, "reader", f"KIT_ROOT = {str(course)!r}\n" + READER)
    tmp_path.chmod(0o755)
    command = [*DOCKER_LIKE[:2], "--no-landlock", "--", sys.executable, "-m", "pytest",
               "autograder/test_batchnorm.py::test_training_output_2d", "-q", "-p", "no:cacheprovider",
               "--submission", str(folder), "--disposable-machine", "--results-json", str(tmp_path / "r.json")]
    subprocess.run(command, cwd=course, env={**os.environ, "PYTHONPATH": str(course)}, capture_output=True,
                   timeout=300)
    results = json.loads((tmp_path / "r.json").read_text())
    uid, found = eval(results["tests"][0]["output"].split("RuntimeError: ", 1)[1].rsplit(" (at ", 1)[0])
    assert uid >= sandbox._UNPRIVILEGED_UIDS[0] and found == ["PermissionError"] * 3
    assert results["extra_data"]["sandbox"]["isolation"] == "landlock"
    assert "locked" in results["extra_data"]["sandbox"]["layers"][0]
    assert not (course / "course.yml").stat().st_mode & 0o004
