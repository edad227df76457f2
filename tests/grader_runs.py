"""Helpers for the kit's own tests: grade a folder the way an instructor would, in a subprocess."""

import itertools
import json
import os
from pathlib import Path

from coursekit import paths
from coursekit.batch.client import GradingServer

_RUNS = itertools.count()


_SERVER = GradingServer()


def grader_pids(server=None):
    """The processes behind grade(): this test process and its preloaded pytest server."""
    server = server or _SERVER
    return [os.getpid()] + ([server.pid] if server.pid is not None else [])


def grade(submission=None, *, solutions=False, course=None, select=None, sandbox=None, tmp_path, server=None):
    """Run `pytest autograder` on a submission; return (results.json as a dict, the run's output).

    `select` is a node id or a list of them (default: every grader); `sandbox` a --sandbox mode;
    `server` a GradingServer of the caller's (default: one shared by every test of this process).
    """
    tmp_path = Path(tmp_path)
    tag = f"{os.getpid()}-{next(_RUNS)}"
    results, log = tmp_path / f"results-{tag}.json", tmp_path / f"grading-{tag}.log"
    selected = [select] if isinstance(select, str) else list(select or [paths.AUTOGRADER])
    argv = [*map(str, selected), "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
            "--results-json", str(results)]
    if solutions:
        argv.append("--solutions")
    elif submission is not None:
        argv += ["--submission", str(submission)]
    if course is not None:
        argv += ["--course", str(course)]
    if sandbox is not None:
        argv += ["--sandbox", sandbox]
    exit_code = (server or _SERVER).run(argv, log)
    output = log.read_text() if log.exists() else ""
    if not results.exists():
        raise AssertionError(f"grading wrote no results.json (exit {exit_code}):\n{output[-3000:]}")
    return json.loads(results.read_text()), output


def grader_names(results, *, failed):
    """Grader test function names that failed (failed=True) or passed (failed=False)."""
    return {test["extra_data"]["test"].rpartition("::")[2] for test in results["tests"]
            if (test["status"] == "failed") == failed}


def submission_with(tmp_path, name, source, exercise="batchnorm"):
    """A submission folder holding exercise/<exercise>.py with `source`."""
    folder = Path(tmp_path) / name
    (folder / exercise).mkdir(parents=True)
    (folder / exercise / f"{exercise}.py").write_text(source)
    return folder


def reference_source(exercise="batchnorm"):
    return (paths.SOLUTIONS / exercise / f"{exercise}.py").read_text()


def course_with(tmp_path, **changes):
    """A copy of course.yml with top-level exercise keys replaced by simple text substitution."""
    text = paths.COURSE_FILE.read_text()
    for old, new in changes.items():
        if old not in text:
            raise KeyError(old)
        text = text.replace(old, new)
    path = Path(tmp_path) / "course.yml"
    path.write_text(text)
    return path
