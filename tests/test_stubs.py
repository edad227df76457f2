"""Stubs are generated from the solutions; markers are checked; leaks are found."""

import ast
import re

import pytest

from coursekit import paths
from coursekit.config import load_course
from coursekit.stubs import (
    GENERATED_RAISE,
    SolutionMarkerError,
    fill_stub,
    find_leaks,
    make_stub,
    solution_fingerprints,
)

from grader_runs import reference_source

EXERCISES = load_course(paths.COURSE_FILE).exercises


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_committed_stub_is_what_the_generator_makes(exercise):
    solution = (paths.SOLUTIONS / exercise.id / exercise.module_file).read_text()
    committed = (paths.ASSIGNMENTS / exercise.id / exercise.module_file).read_text()
    assert committed == make_stub(solution, exercise.id), (
        f"assignments/{exercise.id}/{exercise.module_file} drifted from its solution: "
        "run `python -m coursekit release` and commit the result")


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_stub_keeps_the_api_and_names_every_task(exercise):
    solution = (paths.SOLUTIONS / exercise.id / exercise.module_file).read_text()
    stub = make_stub(solution, exercise.id)
    defined = {node.name for node in ast.parse(stub).body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    assert set(exercise.tasks) <= defined
    assert not find_leaks(stub, solution_fingerprints(solution))
    assert len(GENERATED_RAISE.findall(stub)) == solution.count("### BEGIN SOLUTION")
    assert all(len(line) <= 100 for line in stub.splitlines()
               if "NotImplementedError" in line or line.strip().startswith('"'))


def test_filling_the_stub_gives_back_the_solution():
    solution = reference_source()
    without_markers = "".join(line for line in solution.splitlines(keepends=True) if "SOLUTION" not in line)
    assert fill_stub(make_stub(solution, "batchnorm"), solution) == without_markers


def test_stub_message_names_module_function_and_task():
    source = ("class Model:\n    def forward(self, x):\n        \"\"\"Doc.\"\"\"\n"
              "        ### BEGIN SOLUTION: apply the layer\n        return x\n        ### END SOLUTION\n")
    stub = make_stub(source, "demo")
    assert '        raise NotImplementedError("demo.Model.forward: apply the layer")' in stub
    assert '"""Doc."""' in stub


@pytest.mark.parametrize("source, message", [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "<solution>:2: BEGIN SOLUTION is never closed"),
    ("def f():\n    ### END SOLUTION\n", "<solution>:2: END SOLUTION without a BEGIN SOLUTION"),
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "<solution>:1: a solution region must sit inside a function"),
    ("def f():\n    x = 1  # BEGIN SOLUTION\n", "<solution>:2: write markers as"),
])
def test_marker_mistakes_are_reported_with_their_line(source, message):
    with pytest.raises(SolutionMarkerError, match=re.escape(message)):
        make_stub(source, "demo")


def test_leak_scanner_finds_solution_lines_and_markers():
    solution = reference_source()
    fingerprints = solution_fingerprints(solution)
    assert find_leaks("x = 1\n", fingerprints) == []
    two_solution_lines = ("        var = x.var(dim=dims, correction=0)\n"
                          "        if running_mean is not None and running_var is not None:\n")
    assert find_leaks(two_solution_lines, fingerprints)
    assert not find_leaks("    with torch.no_grad():\n", fingerprints)
    assert find_leaks("# ### BEGIN SOLUTION\n", fingerprints)
