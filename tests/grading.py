"""Helpers for the kit's own tests: grade a folder the way an instructor would, in a subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

from coursekit import paths


def grade(submission=None, *, solutions=False, course=None, select=None, tmp_path):
    """Run `pytest autograder` on a submission; return (results.json as a dict, the run's output)."""
    results = Path(tmp_path) / f"results-{os.getpid()}-{id(submission)}.json"
    command = [sys.executable, "-m", "pytest", str(select or paths.AUTOGRADER), "-q", "-p", "no:cacheprovider",
               "--results-json", str(results)]
    if solutions:
        command.append("--solutions")
    elif submission is not None:
        command += ["--submission", str(submission)]
    if course is not None:
        command += ["--course", str(course)]
    env = {**os.environ, "PYTHONPATH": str(paths.REPO_ROOT)}
    run = subprocess.run(command, cwd=paths.REPO_ROOT, capture_output=True, text=True, env=env, timeout=900)
    output = run.stdout + run.stderr
    if not results.exists():
        raise AssertionError(f"grading wrote no results.json (exit {run.returncode}):\n{output[-3000:]}")
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
