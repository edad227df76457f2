"""The three processes of one worker, forked by the zygote (zygote_server.py) for a SpawnRequest.

Each worker is three processes: a holder; its child, the worker's init, which reaps; and the
worker proper, which copies the student's module and the scenarios into its scratch folder, sets
its resource limits, drops every privilege and serves the grader (serve.py). By tier:
  bubblewrap  the holder enters new mount, PID and IPC namespaces and mounts private tmpfs folders
              on the sandbox root (spawn.SANDBOX_ROOT, /sandbox) and /tmp; init is PID 1 of the new
              namespace (it mounts /proc); killing it ends everything the student started.
  landlock    the scratch folder is a host folder; the worker (as root: on a fresh uid that owns
              the scratch folder) restricts itself with Landlock and a seccomp filter before any
              student code runs. The holder is a child subreaper outside the worker's Landlock
              domain: when init ends it kills every process left (as root: every process of the
              worker's uid; otherwise every orphan it inherited).
  none        a host scratch folder and the resource limits; the holder's session is killed.
An exit is reported as its code, a death by signal S as 128 + S.
"""

import os
import resource
import signal
import sys
import time

from . import landlock, namespaces, serve, syscall_filter
from .spawn import SANDBOX_ROOT

_PR_SET_CHILD_SUBREAPER = 36


def exit_code(status):
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def close_all_but(keep):
    for fd in sorted(set(range(3, _open_fd_limit())) - set(keep)):
        try:
            os.close(fd)
        except OSError:
            pass


def _open_fd_limit():
    try:
        return max(int(fd) for fd in os.listdir("/proc/self/fd")) + 1
    except (OSError, ValueError):
        return 1024


def _copy(source_fd, target):
    with os.fdopen(source_fd, "rb") as source, open(target, "wb") as copy:
        while chunk := source.read(1 << 20):
            copy.write(chunk)
    os.chmod(target, 0o444)


def _run_worker(request, fds, scratch):
    """The worker proper: stage the files, confine itself, then serve (never returns)."""
    request_fd, reply_fd, output_fd, student_fd, scenarios_fd = fds
    os.chdir(scratch)
    _copy(student_fd, os.path.join(scratch, f"{request.module}.py"))
    _copy(scenarios_fd, os.path.join(scratch, f"{request.scenarios}.py"))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    close_all_but({request_fd, reply_fd})
    os.environ.clear()
    os.environ.update(request.environment)
    sys.dont_write_bytecode = True      # python -E ignores PYTHONDONTWRITEBYTECODE
    sys.path[:] = [scratch] + [entry for entry in sys.path if entry not in ("", ".", SANDBOX_ROOT, scratch)]
    for name, value in request.rlimits.items():
        limit = getattr(resource, name)
        resource.setrlimit(limit, (value, value))
    namespaces.drop_privileges(request.uid)
    if request.tier == "landlock":
        if request.readable:        # none: a kernel without Landlock, the course files locked instead
            landlock.restrict(request.readable, [scratch], request.devices)
        syscall_filter.install()
    code = 0
    try:
        serve.serve(request_fd, reply_fd)
    except SystemExit as exit_request:
        code = exit_request.code if isinstance(exit_request.code, int) else 1
    except BaseException:
        code = 70
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run_init(request, fds, scratch):
    """PID 1 of the worker's namespace: start the worker, reap, and exit as the worker did.

    Its own session, so that a worker's killpg(0) reaches only its own namespace, never the
    zygote (process groups are not confined by PID namespaces).
    """
    if request.confined:
        os.setsid()
        namespaces.mount_proc()
    elif request.tier == "landlock":
        os.setsid()     # a session apart from the holder's: the zygote kills this one, the holder sweeps
    worker = os.fork()
    if worker == 0:
        _run_worker(request, fds, scratch)
    for fd in fds:
        os.close(fd)
    while True:
        pid, status = os.wait()
        if pid == worker:
            os._exit(exit_code(status))


def _processes(parent=None, uid=None):
    """The pids of the living (not zombie) processes whose parent is `parent`, or whose uid is `uid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                state, ppid = stat.read().rpartition(")")[2].split()[:2]
            owner = os.stat(f"/proc/{entry}").st_uid
        except (OSError, ValueError):
            continue
        if state != "Z" and (int(ppid) == parent or (uid is not None and owner == uid)):
            found.append(int(entry))
    return found


def _kill_every_process_of(uid):
    """kill(-1) from a child that becomes `uid`: every process of that uid is signalled at once."""
    killer = os.fork()
    if killer == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)     # every process this uid may signal, but the caller
        except BaseException:
            pass
        os._exit(0)
    os.waitpid(killer, 0)


def _sweep(uid):
    """Kill and reap every process the worker left (see the module's docstring)."""
    me = os.getpid()
    while True:
        if uid is not None:
            _kill_every_process_of(uid)
        left = _processes(parent=me, uid=uid)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        if not left:
            return
        time.sleep(0.001)


def run_holder(request, fds, pid_write):
    """Enter the new namespaces (or become a subreaper), start init, wait for it and clean up."""
    scratch = request.scratch
    if request.confined:
        namespaces.unshare(namespaces.CLONE_NEWNS | namespaces.CLONE_NEWPID | namespaces.CLONE_NEWIPC)
        namespaces.make_mounts_private()
        namespaces.mount_tmpfs_keeping("/tmp", request.scratch_bytes, request.keep_under_tmp)
        namespaces.mount_tmpfs(SANDBOX_ROOT, request.scratch_bytes)
    else:
        os.setsid()
    if request.tier == "landlock":
        namespaces.prctl(_PR_SET_CHILD_SUBREAPER, 1)
        if request.uid is not None:
            os.chown(scratch, request.uid, request.uid)
    init = os.fork()
    if init == 0:
        os.close(pid_write)
        _run_init(request, fds, scratch)
    os.write(pid_write, str(init).encode())
    os.close(pid_write)
    for fd in fds:
        os.close(fd)
    _, status = os.waitpid(init, 0)
    if request.tier == "landlock":
        _sweep(request.uid)
    os._exit(exit_code(status))
