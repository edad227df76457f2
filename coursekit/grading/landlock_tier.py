"""The landlock tier: confinement made only of what an unprivileged process may do.

Where bubblewrap cannot create namespaces (Gradescope's Docker containers, hosts without
unprivileged user namespaces), each worker confines itself before it reads student code
(coursekit/worker/spawned.py): as root it becomes a fresh unprivileged uid that owns its scratch
folder; it sets its resource limits and no_new_privs; Landlock (coursekit/worker/landlock.py)
lets it read only the Python environment, the system's libraries and the worker package, and write
only its scratch folder (also its TMPDIR); a seccomp filter (coursekit/worker/syscall_filter.py)
refuses sockets other than AF_UNIX, ptrace, namespaces, mounts and other calls it never needs.
When it ends, everything it started is killed (spawned.py's holder).

This module says what the worker may read, and finds out, by confining a short-lived process
exactly so, whether this machine can: `problem()` is None where it can. On a kernel without
Landlock, a grader that runs as root on a disposable machine (Gradescope's containers; the
`--disposable-machine` option says so) can make the course files unreadable to the workers' uids
instead (`lock_course_files()`); the tier then enforces everything but Landlock's rules.
"""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

from coursekit import paths
from coursekit.grading.bubblewrap import ETC_FILES, SYSTEM_DIRS, python_roots

_DEVICES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")


def _around(root, hidden):
    """`root` as a list of readable paths, leaving out `hidden` (and everything beneath it)."""
    if not hidden.is_relative_to(root):
        return [root]
    if hidden == root or not root.is_dir():
        return []
    around = []
    for child in sorted(root.iterdir()):
        around += _around(child, hidden) if hidden.is_relative_to(child) else [child]
    return around


@functools.cache
def readable_paths(worker_package):
    """The paths a worker may read and execute beneath: never the course repository.

    A Python environment inside the repository (a .venv) stays readable; the rest of the
    repository does not, even where it lies beneath a system folder.
    """
    repository = Path(os.path.realpath(paths.REPO_ROOT))
    roots = [Path(os.path.realpath(system)) for system in SYSTEM_DIRS if os.path.exists(system)]
    roots += [root for root in python_roots() if not repository.is_relative_to(root)]
    readable = [path for root in sorted(set(roots)) for path in _around(root, repository)]
    readable += [root for root in python_roots() if repository.is_relative_to(root) and root != repository]
    readable += [Path(item) for item in ETC_FILES if os.path.exists(item)]
    readable.append(Path(worker_package))
    if os.path.exists("/dev/nvidiactl"):       # CUDA: the driver's files
        readable += [Path(item) for item in ("/sys", "/proc/driver/nvidia") if os.path.exists(item)]
    return tuple(sorted({str(path) for path in readable}))


@functools.cache
def devices():
    """The device files a worker may read, write and ioctl: the null devices, the random ones, a GPU's."""
    found = [device for device in _DEVICES if os.path.exists(device)]
    if os.path.exists("/dev/nvidiactl"):
        found += sorted(f"/dev/{name}" for name in os.listdir("/dev") if name.startswith("nvidia"))
    return tuple(found)


# Run by `problem()` in a fresh interpreter: confine itself as a worker does (as root: on an
# unprivileged uid), then check that the course repository cannot be read and the network not reached.
_PROBE = """
import json, os, socket, sys, sysconfig
sys.path.insert(0, {kit!r})
from coursekit.worker import landlock, namespaces, syscall_filter
seccomp = syscall_filter.available()
python_folders = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"])
namespaces.drop_privileges({uid!r})
enforced = landlock.restrict({readable!r}, [], {devices!r}) if {use_landlock!r} else []
if seccomp is None:
    syscall_filter.install()
try:
    os.listdir({repository!r})
    leak = "the course repository is still readable"
except PermissionError:
    leak = None
try:
    open(os.path.join({repository!r}, "course.yml")).close()
    leak = leak or "course.yml is still readable"
except PermissionError:
    pass
try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    network = "a TCP socket can still be made"
except OSError:
    network = None
unreadable = None
for folder in python_folders:
    try:
        os.listdir(folder)
    except OSError:
        unreadable = folder
print(json.dumps({{"landlock": enforced, "abi": landlock.abi_version(), "seccomp": seccomp, "leak": leak,
                  "network": network, "unreadable": unreadable}}))
"""


@functools.cache
def probe(uid, use_landlock=True):
    """What confining a process as a worker of this tier enforces here: a dict with the Landlock
    rights ("landlock", "abi"), why seccomp is missing ("seccomp", None if it is there), what the
    probe could still reach ("leak", "network") and what of the Python environment it could not
    ("unreadable"); or {"error": why} if it could not confine itself. `use_landlock=False`: the
    same without Landlock (on a disposable machine whose course files were locked)."""
    from coursekit.worker import landlock

    if use_landlock and landlock.abi_version() < 1:
        return {"error": "Landlock is not available on this kernel (Linux 5.13 or later, with landlock "
                         "among the security modules, is needed)"}
    kit = Path(__file__).resolve().parents[2]
    code = _PROBE.format(kit=str(kit), uid=uid, readable=list(readable_paths(kit / "coursekit" / "worker")),
                         devices=list(devices()), repository=str(paths.REPO_ROOT), use_landlock=use_landlock)
    try:
        finished = subprocess.run([sys.executable, "-E", "-s", "-c", code], stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=60, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"error": f"the confinement probe could not run: {error}"}
    if finished.returncode != 0:
        reason = finished.stderr.decode("utf-8", "replace").strip().splitlines()
        return {"error": f"a worker cannot confine itself here: {reason[-1] if reason else finished.returncode}"}
    return json.loads(finished.stdout)


def problem(uid, use_landlock=True):
    """None if a worker on `uid` (None: the grader's own) can be confined by this tier here, else why not."""
    found = probe(uid, use_landlock)
    if "error" in found:
        return found["error"]
    if found["leak"]:
        return f"the landlock tier does not confine here: {found['leak']}"
    if found["unreadable"]:
        return (f"a worker on an unprivileged uid cannot read the Python environment ({found['unreadable']}): "
                "a folder above it is closed to other users; install Python where every user may read it "
                "(as Docker images do)")
    return None


def lock_course_files(repository=None):
    """On a disposable machine without Landlock (as root): make the course repository unreadable to
    every other uid, so that a worker on a fresh uid cannot read it. Its folder stays enterable
    (not listable) for a Python environment inside it, which stays readable; everything else at its
    top level loses every right of "others". Returns the paths changed. Never run on a machine that
    outlives grading: the instructor's files keep these modes."""
    repository = Path(repository or paths.REPO_ROOT)
    keep = {root.relative_to(repository).parts[0] for root in python_roots()
            if root.is_relative_to(repository) and root != repository}
    changed = [repository]
    os.chmod(repository, (repository.stat().st_mode & ~0o007) | 0o001)
    for entry in sorted(repository.iterdir()):
        if entry.name not in keep and not entry.is_symlink():
            os.chmod(entry, entry.stat().st_mode & ~0o007)
            changed.append(entry)
    return changed
