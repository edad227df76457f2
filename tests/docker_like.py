"""Run a command confined as Docker's default profile confines a container's processes.

    python tests/docker_like.py [--user NAME] [--no-landlock] -- COMMAND ...

For the kit's own tests of the landlock tier, on a host where bubblewrap works: must start as root.
It keeps only the capabilities Docker grants by default (no CAP_SYS_ADMIN), and loads a seccomp
filter that refuses what Docker's default profile refuses a container without CAP_SYS_ADMIN:
unshare, setns, mount and clone with a CLONE_NEW* flag (EPERM), clone3 (ENOSYS). bubblewrap
then fails as it does on Gradescope ("Creating new namespace failed: Operation not permitted").
With --user it then becomes that unprivileged user (as a grader on a host without user
namespaces). A private mount namespace, made first, keeps the Python interpreter and the kit
reachable for every user where they lie in a folder only root may enter (/root/.pyenv), as they
are in a Docker image; the grader's workers run on unprivileged uids. With --no-landlock, Landlock's system calls
answer ENOSYS, as on a kernel before Linux 5.13.
"""

import argparse
import ctypes
import errno
import os
import pwd
import sys
from pathlib import Path

import pyseccomp as seccomp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from coursekit.worker import namespaces

# Docker's default capabilities (moby's oci/caps/defaults.go), by number
DOCKER_CAPABILITIES = {0: "CHOWN", 1: "DAC_OVERRIDE", 3: "FOWNER", 4: "FSETID", 5: "KILL", 6: "SETGID",
                       7: "SETUID", 8: "SETPCAP", 10: "NET_BIND_SERVICE", 13: "NET_RAW", 18: "SYS_CHROOT",
                       27: "MKNOD", 29: "AUDIT_WRITE", 31: "SETFCAP"}
_PR_CAPBSET_DROP = 24
_CLONE_NEW = 0x7E020000     # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
_libc = ctypes.CDLL(None, use_errno=True)


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def keep_docker_capabilities():
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for capability in range(last + 1):
        if capability not in DOCKER_CAPABILITIES and _libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "could not drop a capability from the bounding set")
    mask = sum(1 << capability for capability in DOCKER_CAPABILITIES)
    data = (_Data * 2)((mask, mask, 0), (0, 0, 0))
    if _libc.capset(ctypes.byref(_Header(0x20080522, 0)), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def refuse_namespaces(landlock=True):
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    if not landlock:        # as a kernel before Linux 5.13 answers
        for name in ("landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"):
            rules.add_rule(seccomp.ERRNO(errno.ENOSYS), name)
    for name in ("unshare", "setns", "mount", "umount2", "pivot_root", "fsopen", "fsmount", "open_tree",
                 "move_mount"):
        rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
    for flag in range(17, 31):
        if _CLONE_NEW & (1 << flag):
            rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, 1 << flag, 1 << flag))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    rules.load()


def keep_reachable(*targets):
    """In a private mount namespace, make every folder above `targets` enterable by all users."""
    namespaces.unshare(namespaces.CLONE_NEWNS)
    namespaces.make_mounts_private()
    closed = {}         # a folder only its owner may enter -> its children on the way to a target
    for target in targets:
        for folder in Path(target).parents:
            if folder != Path("/") and not os.stat(folder).st_mode & 0o001:
                closed.setdefault(folder, set()).update(str(child) for child in folder.iterdir()
                                                        if Path(target).is_relative_to(child))
    for folder, kept in sorted(closed.items(), key=lambda item: len(item[0].parts)):
        namespaces.mount_tmpfs_keeping(str(folder), 1 << 20, sorted(kept))
        os.chmod(folder, 0o755)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", help="become this unprivileged user after the set-up")
    parser.add_argument("--no-landlock", action="store_true", help="answer Landlock's calls as a kernel without it")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if os.geteuid() != 0 or not command:
        sys.exit("docker_like.py: start as root, with a command after --")
    # as in a Docker image, where Python and the kit are installed for every user
    keep_reachable(os.path.realpath(sys.executable), Path(__file__).resolve().parents[1])
    keep_docker_capabilities()
    refuse_namespaces(landlock=not options.no_landlock)
    if options.user:
        user = pwd.getpwnam(options.user)
        os.setgroups([])
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
        os.environ.update(HOME="/tmp", USER=options.user, LOGNAME=options.user)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
