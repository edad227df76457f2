"""The three processes of one worker, forked by the zygote (zygote_server.py) for a SpawnRequest.

Each worker is three processes: a holder that enters new mount, PID and IPC namespaces (a
confined request, inside bubblewrap) and mounts private tmpfs folders on the sandbox root
(spawn.SANDBOX_ROOT, /sandbox) and /tmp; its child, PID 1 of the new namespace, which mounts /proc
and reaps; and the worker proper, which copies the student's module and the scenarios into its
scratch folder (the sandbox root, or a host folder when not confined), sets its resource limits, drops
every privilege and serves the grader (serve.py). Killing PID 1 ends everything the student
started. An exit is reported as its code, a death by signal S as 128 + S.
"""

import os
import resource
import sys

from . import namespaces, serve
from .spawn import SANDBOX_ROOT


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
    worker = os.fork()
    if worker == 0:
        _run_worker(request, fds, scratch)
    for fd in fds:
        os.close(fd)
    while True:
        pid, status = os.wait()
        if pid == worker:
            os._exit(exit_code(status))


def run_holder(request, fds, pid_write):
    """Enter the new namespaces, mount the private folders, start PID 1, and wait for it."""
    scratch = request.scratch
    if request.confined:
        namespaces.unshare(namespaces.CLONE_NEWNS | namespaces.CLONE_NEWPID | namespaces.CLONE_NEWIPC)
        namespaces.make_mounts_private()
        namespaces.mount_tmpfs_keeping("/tmp", request.scratch_bytes, request.keep_under_tmp)
        namespaces.mount_tmpfs(SANDBOX_ROOT, request.scratch_bytes)
    else:
        os.setsid()
    init = os.fork()
    if init == 0:
        os.close(pid_write)
        _run_init(request, fds, scratch)
    os.write(pid_write, str(init).encode())
    os.close(pid_write)
    for fd in fds:
        os.close(fd)
    _, status = os.waitpid(init, 0)
    os._exit(exit_code(status))
