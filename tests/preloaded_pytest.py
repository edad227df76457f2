"""A small fork server for the kit's tests: pytest runs that skip Python's, torch's and the zygote's start-up.

Started as `python tests/preloaded_pytest.py`, it imports torch, pytest and the grading harness
once, starts a zygote (coursekit/grading/zygote.py) with the default isolation, then reads one
JSON request per line on stdin: {"argv": [...], "log": path}. For each it forks a child that
runs `pytest.main(argv)` in the repository root with its output in `log`, waits for it, kills
any worker the child left behind, and answers with one JSON line {"exit": code}. The server
itself runs no torch operation, so its children start without thread pools (forking after those
exist is unsafe).
"""

import json
import os
import sys

import pytest  # noqa: F401  (preloaded for the children)
import torch  # noqa: F401
import yaml  # noqa: F401

import coursekit.grading.plugin  # noqa: F401
from coursekit import paths
from coursekit.config import load_course
from coursekit.grading import zygote
from coursekit.grading.sandbox import choose_isolation


def run_child(argv, log_path):
    os.chdir(paths.REPO_ROOT)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        code = int(pytest.main(argv))
    except BaseException:
        code = 99
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main():
    course = load_course(paths.COURSE_FILE)
    shared = zygote.preload(choose_isolation(course.sandbox.isolation), course.sandbox.scratch_mb << 20)
    for line in sys.stdin:
        request = json.loads(line)
        child = os.fork()
        if child == 0:
            run_child(request["argv"], request["log"])
        _, status = os.waitpid(child, 0)
        if shared.alive:
            shared.reset()
        print(json.dumps({"exit": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    main()
