"""Give up root inside the sandbox before any student code can run."""

import ctypes
import os

_PR_SET_NO_NEW_PRIVS = 38


def _effective_capabilities():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def drop_privileges(uid):
    """Become `uid` (and gid `uid`) with no supplementary groups, no capabilities, and no way back.

    no_new_privs makes setuid programs under /usr powerless for this process and its children.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SystemExit("worker: could not set no_new_privs")
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid or _effective_capabilities() != 0:
        raise SystemExit("worker: privileges were not dropped")
