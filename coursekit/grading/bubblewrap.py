"""bubblewrap, the confinement tier built of namespaces: the zygote's sandbox and its arguments.

bubblewrap (`bwrap`) starts the zygote in new PID, network (loopback only, empty), IPC and UTS
namespaces, where it sees:
    /sandbox         a size-capped tmpfs holding a read-only copy of the worker package
    /tmp             a private size-capped tmpfs
    the Python environment, /usr and the system libraries, read-only
    nothing else: not the course repository, the reference solutions or the hidden tests.
The zygote keeps the capabilities it needs to build one sandbox more per worker (CAP_SYS_ADMIN;
as root also CAP_SETUID/CAP_SETGID; as an ordinary user only inside bwrap's user namespace);
coursekit/worker/spawned.py builds each worker's.
"""

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from coursekit import paths
from coursekit.worker.spawn import SANDBOX_ROOT

ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
             "/etc/nsswitch.conf", "/etc/alternatives")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@functools.cache
def bubblewrap_problem():
    """None if bubblewrap can confine a worker here, otherwise why not (one line)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    probe = bwrap_arguments(bwrap, Path("/nonexistent"), []) + ["--", "/bin/true"]
    try:
        finished = subprocess.run(probe, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not start: {error}"
    if finished.returncode != 0:
        reason = finished.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bubblewrap cannot create a sandbox here: {reason[-1] if reason else finished.returncode}"
    return None


def python_roots():
    """Folders the worker's Python needs: the interpreter's installation and the environment's packages."""
    roots = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.exec_prefix),
             Path(os.path.realpath(sys.executable)).parent.parent}
    kept = []
    for root in sorted({Path(os.path.realpath(r)) for r in roots} | roots, key=lambda p: len(p.parts)):
        if root.is_dir() and not any(root != k and root.is_relative_to(k) for k in kept) \
                and not any(str(root).startswith(system) for system in SYSTEM_DIRS):
            kept.append(root)
    return kept


def _parents(path):
    return [parent for parent in reversed(Path(path).parents) if parent != Path("/")]


def bwrap_arguments(bwrap, staged, staged_names, scratch_bytes=64 << 20, as_root=None):
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
    for system in SYSTEM_DIRS:
        if os.path.islink(system):
            args += ["--symlink", os.readlink(system), system]
        elif os.path.isdir(system):
            args += ["--ro-bind", system, system]
            made.add(Path(system))
    # the private /tmp first: an environment that lives under /tmp is mounted on top of it
    args += ["--perms", "1777", "--size", str(scratch_bytes), "--tmpfs", "/tmp"]
    made.add(Path("/tmp"))
    for root in python_roots():
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
    for item in ETC_FILES:
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


def python_roots_under_tmp():
    """The Python environment's folders under /tmp: a worker's private /tmp must keep them visible."""
    return [str(root) for root in python_roots() if root.is_relative_to("/tmp")]
