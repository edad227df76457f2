"""Confinement of the processes that run student code.

Workers are forked by a zygote (coursekit/worker/zygote_server.py) that bubblewrap (`bwrap`) starts
once per grading process. The zygote's sandbox has new PID, network (loopback only, empty), IPC
and UTS namespaces, and shows:
    /sandbox         a size-capped tmpfs holding a read-only copy of the worker package
    /tmp             a private size-capped tmpfs
    the Python environment, /usr and the system libraries, read-only
    nothing else: not the course repository, the reference solutions or the hidden tests.
The zygote keeps the capabilities it needs to build one sandbox more per worker (CAP_SYS_ADMIN;
as root also CAP_SETUID/CAP_SETGID; as an ordinary user only inside bwrap's user namespace):
every worker gets new mount, PID and IPC namespaces of its own, a fresh /sandbox (holding the
student's module and the scenarios) and /tmp, its resource limits, and then drops every
privilege (as root: to a fresh unprivileged uid, so that RLIMIT_NPROC applies) before it reads
any student code. Workers of different students cannot see, signal or read each other.

Where bubblewrap cannot run, `isolation: auto` falls back to a scratch folder plus the same
resource limits, and says so loudly (a warning and a field in results.json).

Resource limits (course.yml `sandbox:`) are set by every worker on itself: writable memory
(RLIMIT_DATA, which unlike RLIMIT_AS leaves CUDA's address-space reservations alone), CPU time,
processes, open files and file size. What it prints is capped by the reader in process.py.
"""

import functools
import os
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from coursekit import paths
from coursekit.worker.spawn import SANDBOX_ROOT

_UNPRIVILEGED_UIDS = (0x70000000, 1 << 24)   # a range no real account uses: start, size
_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
              "/etc/nsswitch.conf", "/etc/alternatives")
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class SandboxUnavailable(RuntimeError):
    """course.yml asks for bubblewrap, and it cannot run here."""


@dataclass(frozen=True)
class Isolation:
    """The confinement grading uses: `kind` is "bubblewrap" or "none"; `warning` says what is missing."""

    kind: str
    warning: str = ""

    def as_plain(self):
        return {"isolation": self.kind, "warning": self.warning}


@functools.cache
def bubblewrap_problem():
    """None if bubblewrap can confine a worker here, otherwise why not (one line)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    probe = _bwrap_arguments(bwrap, Path("/nonexistent"), []) + ["--", "/bin/true"]
    try:
        finished = subprocess.run(probe, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not start: {error}"
    if finished.returncode != 0:
        reason = finished.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bubblewrap cannot create a sandbox here: {reason[-1] if reason else finished.returncode}"
    return None


def choose_isolation(mode):
    """The Isolation for course.yml's `isolation` mode ("auto", "bubblewrap" or "none")."""
    if mode == "none":
        return Isolation("none", "the sandbox is switched off (isolation: none): student code can read "
                                 "and change this machine's files and reach the network")
    problem = bubblewrap_problem()
    if problem is None:
        return Isolation("bubblewrap")
    if mode == "bubblewrap":
        raise SandboxUnavailable(f"course.yml asks for isolation: bubblewrap, but {problem}; install "
                                 "Debian's bubblewrap package, or allow unprivileged user namespaces")
    return Isolation("none", f"NO SANDBOX: {problem}. Student code runs with resource limits only and "
                             "can read the reference solutions and hidden tests; do not trust these scores "
                             "for untrusted submissions")


def _python_roots():
    """Folders the worker's Python needs: the interpreter's installation and the environment's packages."""
    roots = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.exec_prefix),
             Path(os.path.realpath(sys.executable)).parent.parent}
    kept = []
    for root in sorted({Path(os.path.realpath(r)) for r in roots} | roots, key=lambda p: len(p.parts)):
        if root.is_dir() and not any(root != k and root.is_relative_to(k) for k in kept) \
                and not any(str(root).startswith(system) for system in _SYSTEM_DIRS):
            kept.append(root)
    return kept


def _parents(path):
    return [parent for parent in reversed(Path(path).parents) if parent != Path("/")]


def _bwrap_arguments(bwrap, staged, staged_names, scratch_bytes=64 << 20, as_root=None):
    """bwrap's argument list; each of `staged_names` in the host folder `staged` appears read-only
    under the same name in /sandbox."""
    as_root = os.geteuid() == 0 if as_root is None else as_root
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
            "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    args += ["--cap-drop", "ALL", "--cap-add", "CAP_SYS_ADMIN"]   # to build each worker's namespaces
    if as_root:    # no user namespace: each worker drops to a fresh unprivileged uid itself
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user"]
    made = set()
    for system in _SYSTEM_DIRS:
        if os.path.islink(system):
            args += ["--symlink", os.readlink(system), system]
        elif os.path.isdir(system):
            args += ["--ro-bind", system, system]
            made.add(Path(system))
    # the private /tmp first: an environment that lives under /tmp is mounted on top of it
    args += ["--perms", "1777", "--size", str(scratch_bytes), "--tmpfs", "/tmp"]
    made.add(Path("/tmp"))
    for root in _python_roots():
        for parent in _parents(root):
            if parent not in made:
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        if root not in made:
            args += ["--ro-bind", str(root), str(root)]
            made.add(root)
    bound = [Path(args[i + 2]) for i, arg in enumerate(args) if arg == "--ro-bind"]
    if any(paths.REPO_ROOT.is_relative_to(root) for root in bound):
        args += ["--perms", "0000", "--tmpfs", str(paths.REPO_ROOT)]   # an environment holding the repository
    args += ["--perms", "0755", "--dir", "/etc"]
    for item in _ETC_FILES:
        args += ["--ro-bind-try", item, item]
    args += ["--proc", "/proc", "--dev", "/dev"]
    if os.path.exists("/dev/nvidiactl"):   # CUDA: the driver's devices and /sys
        for device in sorted(os.listdir("/dev")):
            if device.startswith("nvidia"):
                args += ["--dev-bind-try", f"/dev/{device}", f"/dev/{device}"]
        args += ["--ro-bind-try", "/sys", "/sys"]
    args += ["--perms", "1777", "--size", str(scratch_bytes), "--tmpfs", SANDBOX_ROOT]
    for name in staged_names:
        args += ["--ro-bind", str(staged / name), f"{SANDBOX_ROOT}/{name}"]
    args += ["--chdir", SANDBOX_ROOT]
    return args


def _tasks_of(uid):
    """How many processes and threads `uid` runs now (what RLIMIT_NPROC counts)."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                pass
    return count


def fresh_uid():
    start, size = _UNPRIVILEGED_UIDS
    return start + random.SystemRandom().randrange(size)


def worker_rlimits(policy, cpu_seconds):
    """{RLIMIT name: limit} that a worker sets on itself before it reads student code.

    As an ordinary user, RLIMIT_NPROC counts every process of the uid, so the limit is what the
    uid runs now plus the policy's allowance; as root, each worker has a fresh uid of its own.
    """
    as_root = os.geteuid() == 0
    return {"RLIMIT_DATA": policy.memory_mb << 20,
            "RLIMIT_CPU": int(cpu_seconds),
            "RLIMIT_NPROC": policy.processes + (0 if as_root else _tasks_of(os.getuid())),
            "RLIMIT_NOFILE": policy.open_files,
            "RLIMIT_FSIZE": policy.file_size_mb << 20,
            "RLIMIT_CORE": 0}


def python_roots_under_tmp():
    """The Python environment's folders under /tmp: a worker's private /tmp must keep them visible."""
    return [str(root) for root in _python_roots() if root.is_relative_to("/tmp")]


def worker_uid():
    """The uid a worker drops to: a fresh one as root, None (keep the user's) otherwise."""
    return fresh_uid() if os.geteuid() == 0 else None


@dataclass
class Launch:
    """How to start the zygote: the command, its working folder, and the folder workers use."""

    argv: list
    cwd: str
    confined: bool        # True: every worker gets namespaces and a sandbox root of its own


def plan_zygote(isolation, staged, staged_names, python_args, scratch_bytes):
    """The Launch for the zygote whose files (`staged_names`) are staged in the host folder `staged`.

    `python_args` follow the interpreter: the worker package's `-m` and its arguments. Without
    the sandbox the workers keep the grader's uid (as root, RLIMIT_NPROC then does not apply).
    """
    if isolation.kind == "bubblewrap":
        command = _bwrap_arguments(shutil.which("bwrap"), staged, staged_names, scratch_bytes)
        return Launch(command + ["--", sys.executable, "-E", "-s", *python_args], str(staged), True)
    return Launch([sys.executable, "-E", "-s", *python_args], str(staged), False)
