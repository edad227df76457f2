"""A seccomp-BPF filter: the system calls a worker never needs are refused with EPERM.

Installed by a worker of the `landlock` tier after its other limits and before any student code
runs (no_new_privs first); inherited by every process it starts, and never removable. Refused:
  - sockets of any family but AF_UNIX (no TCP/UDP, raw packets or netlink), for socket and socketpair
  - ptrace, process_vm_readv/writev, kcmp, pidfd_getfd: reading or steering another process
  - namespaces and mounts: unshare, setns, clone with a CLONE_NEW* flag (clone3 answers ENOSYS, so
    the C library falls back to clone, whose flags the filter can read, as Docker's profile does),
    mount and its new API, umount2, pivot_root, chroot
  - kernel attack surface a worker has no use for: keyctl, add_key, request_key, bpf,
    perf_event_open, io_uring, userfaultfd, fanotify_init, open_by_handle_at, name_to_handle_at
  - administration: module loading, kexec, reboot, swapon/swapoff, acct, quotactl, the clocks,
    iopl/ioperm, syslog, vhangup
Everything else is allowed: a deny list keeps PyTorch's and Python's calls working wherever they
change. libseccomp (through pyseccomp, its ctypes binding) builds the BPF program for this
architecture, including the check that refuses calls of another architecture's numbering.
"""

import errno
import socket

_REFUSED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd", "fanotify_init",
    "open_by_handle_at", "name_to_handle_at",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "iopl", "ioperm", "syslog", "vhangup", "lookup_dcookie",
)
_CLONE_NEW = {"CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000,
              "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
              "CLONE_NEWNET": 0x40000000, "CLONE_NEWTIME": 0x00000080}


def available():
    """None if libseccomp can be used here, otherwise why not (one line)."""
    try:
        import pyseccomp  # noqa: F401
    except (ImportError, RuntimeError, OSError) as error:
        return f"seccomp: {error}"
    return None


def install():
    """Load the filter into this thread (and every process it starts); OSError if the kernel refuses."""
    import pyseccomp as seccomp

    refuse = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in _REFUSED:
        try:
            rules.add_rule(refuse, name)
        except (ValueError, OSError):
            pass                      # a call this architecture does not have
    for name in ("socket", "socketpair"):
        rules.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), name, seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
    for flag in _CLONE_NEW.values():
        rules.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    rules.load()


def refused_calls():
    """The names of the refused calls, for the run's report."""
    return ["sockets but AF_UNIX", *_REFUSED, "clone with CLONE_NEW*", "clone3 (ENOSYS)"]
