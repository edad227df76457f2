"""Made-up class results for the report's tests: results.json documents written by the grader's own
code (gradescope_results) from chosen outcomes of the real grader tests, and grade-class's CSV."""

import ast
import json

from coursekit import paths
from coursekit.batch.csv_export import write_class_csv
from coursekit.batch.status import student_status
from coursekit.config import load_course
from coursekit.grading.results import TestOutcome as Outcome
from coursekit.grading.results import gradescope_results

COURSE = load_course(paths.COURSE_FILE)


def grader_tests(exercise_id):
    """(name, task, points, description) of each grader test of autograder/test_<id>.py, in file order."""
    tree = ast.parse((paths.AUTOGRADER / f"test_{exercise_id}.py").read_text())
    tests = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            marker = next(d for d in node.decorator_list if getattr(getattr(d, "func", None), "id", "") == "points")
            task = next(keyword.value.value for keyword in marker.keywords if keyword.arg == "task")
            description = ast.get_docstring(node).split("\n\n")[0].replace("\n", " ")
            tests.append((node.name, task, marker.args[0].value, description))
    return tests


TESTS = {exercise.id: grader_tests(exercise.id) for exercise in COURSE.exercises}


def results(failures=None, seconds=5.0, set_aside=None):
    """A results.json document: `failures` {exercise id: {test name: (status, feedback)}}, the rest passed;
    `set_aside` {exercise id: why}: the exercise's one outcome for a file the grader set aside (selection.py)."""
    outcomes = []
    for exercise_id, tests in TESTS.items():
        if exercise_id in (set_aside or {}):
            outcomes.append(Outcome(f"autograder/test_{exercise_id}.py", "all tests", exercise_id, "",
                                    float(COURSE.exercise(exercise_id).points), 0.0, "not graded",
                                    set_aside[exercise_id], tests=len(tests)))
            continue
        failed = (failures or {}).get(exercise_id, {})
        for name, task, points, description in tests:
            status, feedback = failed.get(name, ("passed", ""))
            outcomes.append(Outcome(f"autograder/test_{exercise_id}.py::{name}", description, exercise_id, task,
                                        points, 0.0 if name in failed else points, status, feedback))
    return gradescope_results(outcomes, COURSE.ids, execution_time=seconds, course=COURSE, submission="s",
                              sandbox={})


def every_test(exercise_id, status, feedback):
    return {name: (status, feedback) for name, *_ in TESTS[exercise_id]}


def write_grades(folder, students):
    """A grading folder as grade-class leaves it: <student>/results.json (none for a student whose
    document is None: the grader failed) and grades.csv."""
    graded = {}
    for student, document in students.items():
        (folder / student).mkdir(parents=True)
        if document is not None:
            (folder / student / "results.json").write_text(json.dumps(document))
        graded[student] = (document, student_status(document) if document is not None
                           else student_status(None, "the grading run died"))
    write_class_csv(folder / "grades.csv", COURSE, graded)
    return folder
