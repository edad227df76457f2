"""Notebooks run top to bottom on the reference; public sanity tests pass on it and fail on the stub."""

import os
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from coursekit import paths
from coursekit.config import load_course

EXERCISES = load_course(paths.COURSE_FILE).exercises


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_notebook_runs_on_the_reference(exercise, tmp_path):
    folder = paths.SOLUTIONS / exercise.id
    notebook = nbformat.read(folder / f"{exercise.id}.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    errors = [output for cell in notebook.cells for output in cell.get("outputs", [])
              if output.get("output_type") == "error"]
    assert errors == []
    images = [output for cell in notebook.cells for output in cell.get("outputs", [])
              if "image/png" in output.get("data", {})]
    assert len(images) >= 2, "the notebook should plot what the student's code does"


def run_sanity_tests(folder):
    env = {**os.environ, "PYTHONPATH": ""}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           "--rootdir", str(folder), str(folder)],
                          cwd=folder, capture_output=True, text=True, env=env)


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_sanity_tests_pass_on_the_reference_and_fail_on_the_stub(exercise):
    passed = run_sanity_tests(paths.SOLUTIONS / exercise.id)
    assert passed.returncode == 0, passed.stdout[-2000:]
    failed = run_sanity_tests(paths.ASSIGNMENTS / exercise.id)
    assert failed.returncode == 1 and "NotImplementedError" in failed.stdout
