"""Confinement of the processes that run student code: the tiers, and the limits every worker sets.

Workers are forked by a zygote (coursekit/worker/zygote_server.py), started once per grading
process. Three tiers confine them, strongest first (course.yml `sandbox.isolation`: `auto` picks
the strongest that works here; naming a tier refuses to grade without it):
    bubblewrap  namespaces (bubblewrap.py): the zygote in a sandbox without the course files, every
                worker with mount, PID and IPC namespaces, a /sandbox and /tmp of its own, and (as
                root) a fresh unprivileged uid; needs unprivileged user namespaces or CAP_SYS_ADMIN
    landlock    what an unprivileged process may do (landlock_tier.py): Landlock, a seccomp filter,
                a fresh uid as root, and a sweep of the processes a worker leaves; for Docker
                containers such as Gradescope's, where namespaces are refused
    none        a scratch folder and the resource limits only: loud, in the run and results.json
`Isolation` records the tier, the layers it enforced and what it does not defend.

Resource limits (course.yml `sandbox:`) are set by every worker on itself: writable memory
(RLIMIT_DATA, which unlike RLIMIT_AS leaves CUDA's address-space reservations alone), CPU time,
processes, open files and file size. What it prints is capped by the reader in process.py.
"""

import os
import random
import shutil
import sys
from dataclasses import dataclass, field

from coursekit.grading import landlock_tier
from coursekit.grading.bubblewrap import bubblewrap_problem, bwrap_arguments

_UNPRIVILEGED_UIDS = (0x70000000, 1 << 24)   # a range no real account uses: start, size
_LIMITS = "resource limits (memory, CPU time, processes, open files, file size, output)"


class SandboxUnavailable(RuntimeError):
    """course.yml names a tier that cannot run here."""


@dataclass(frozen=True)
class Isolation:
    """The confinement grading uses.

    kind:          the tier: "bubblewrap", "landlock" or "none"
    layers:        what it enforces here, one line each
    not_defended:  what it leaves open, one line each (SECURITY.md has the whole table)
    warning:       what is missing, for the run's header; empty when the tier is whole
    landlock_abi:  the landlock tier's Landlock ABI (0: none, the course files locked instead)
    """

    kind: str
    warning: str = ""
    layers: tuple = field(default=(), compare=False)
    not_defended: tuple = field(default=(), compare=False)
    landlock_abi: int = field(default=0, compare=False)

    def as_plain(self):
        return {"isolation": self.kind, "warning": self.warning, "layers": list(self.layers),
                "not_defended": list(self.not_defended)}

    def headline(self):
        return f"{self.kind} ({'; '.join(self.layers)})" if self.layers else self.kind


def _bubblewrap():
    uid = "a fresh unprivileged uid per worker" if os.geteuid() == 0 else "a user namespace"
    return Isolation("bubblewrap", layers=("namespaces: mount, PID, network, IPC, UTS",
                                           "a /sandbox and /tmp of its own per worker", uid,
                                           "no capabilities, no_new_privs", _LIMITS),
                     not_defended=("kernel and bubblewrap vulnerabilities",))


def _landlock(found, locked=False):
    as_root = os.geteuid() == 0
    if locked:
        layers = ["course files unreadable to the workers' uids (locked on this disposable machine)"]
    else:
        layers = [f"landlock ABI {found['abi']}: {', '.join(found['landlock'])}"]
    layers += ["seccomp: only AF_UNIX sockets; no ptrace, namespaces, mounts, bpf, io_uring, keyctl"
               if found["seccomp"] is None else []]
    layers += ["a fresh unprivileged uid per worker" if as_root else [], "no capabilities, no_new_privs", _LIMITS,
               "every process a worker leaves is killed"]
    layers = [layer for layer in layers if layer]
    open_ = ["the existence of other processes (no PID namespace: kill(pid, 0) tells which pids run)",
             "disk space: each file in the scratch folder is capped (file_size_mb), their total is not"]
    missing = []
    if locked:
        missing.append("writes to the folders every user may write (/tmp, /var/tmp, /dev/shm) and reads of "
                       "what every user may read (no Landlock on this kernel)")
    if found["abi"] < 6 and not as_root:
        missing.append("signals: a worker can signal every process of the grading user (Landlock ABI < 6)")
    if found["seccomp"] is not None:
        missing.append(f"the system call filter ({found['seccomp']}): UDP and raw sockets, ptrace, io_uring")
    if found["abi"] < 4 and found["seccomp"] is not None:
        missing.append("the network (Landlock ABI < 4 and no seccomp)")
    warning = ("the landlock tier is partial here: it does not defend " + "; ".join(missing)) if missing else ""
    return Isolation("landlock", warning, tuple(layers), tuple(open_ + missing), 0 if locked else found["abi"])


def _probe_uid():
    return _UNPRIVILEGED_UIDS[0] if os.geteuid() == 0 else None


def _landlock_problem():
    return landlock_tier.problem(_probe_uid())


def choose_isolation(mode, disposable=False):
    """The Isolation for course.yml's `isolation` mode ("auto", "bubblewrap", "landlock" or "none").

    `disposable`: this machine is thrown away after grading (Gradescope's containers). Where
    Landlock is missing and the grader is root, the landlock tier then makes the course files
    unreadable to the workers' uids instead (landlock_tier.lock_course_files).
    """
    if mode == "none":
        return Isolation("none", "the sandbox is switched off (isolation: none): student code can read "
                                 "and change this machine's files and reach the network",
                         (_LIMITS,), ("everything but the resource limits",))
    problem = bubblewrap_problem() if mode in ("auto", "bubblewrap") else None
    if mode in ("auto", "bubblewrap") and problem is None:
        return _bubblewrap()
    if mode == "bubblewrap":
        raise SandboxUnavailable(f"course.yml asks for isolation: bubblewrap, but {problem}; install "
                                 "Debian's bubblewrap package, or allow unprivileged user namespaces "
                                 "(or choose isolation: landlock or auto)")
    landlock_problem = _landlock_problem()
    if landlock_problem is None:
        return _landlock(landlock_tier.probe(_probe_uid()))
    if disposable and os.geteuid() == 0 and "Landlock is not available" in landlock_problem:
        landlock_tier.lock_course_files()
        if landlock_tier.problem(_probe_uid(), use_landlock=False) is None:
            return _landlock(landlock_tier.probe(_probe_uid(), use_landlock=False), locked=True)
    if mode == "landlock":
        raise SandboxUnavailable(f"course.yml asks for isolation: landlock, but {landlock_problem}")
    return Isolation("none", f"NO SANDBOX: {problem}, and {landlock_problem}. Student code runs with resource "
                             "limits only and can read the reference solutions and hidden tests; do not trust "
                             "these scores for untrusted submissions", (_LIMITS,),
                     ("everything but the resource limits",))


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


def worker_uid(tier):
    """The uid a worker of `tier` drops to: a fresh one as root, None (keep the user's) otherwise."""
    return fresh_uid() if os.geteuid() == 0 and tier != "none" else None


@dataclass
class Launch:
    """How to start the zygote: the command, its working folder, and its workers' tier."""

    argv: list
    cwd: str
    tier: str             # "bubblewrap": every worker gets namespaces and a sandbox root of its own


def plan_zygote(isolation, staged, staged_names, python_args, scratch_bytes):
    """The Launch for the zygote whose files (`staged_names`) are staged in the host folder `staged`.

    `python_args` follow the interpreter: the worker package's `-m` and its arguments. Without
    bubblewrap the zygote runs as the grader does; its workers confine themselves (landlock tier)
    or keep the grader's uid (none: as root, RLIMIT_NPROC then does not apply).
    """
    python = [sys.executable, "-E", "-s", *python_args]
    if isolation.kind == "bubblewrap":
        command = bwrap_arguments(shutil.which("bwrap"), staged, staged_names, scratch_bytes)
        return Launch(command + ["--", *python], str(staged), "bubblewrap")
    return Launch(python, str(staged), isolation.kind)
