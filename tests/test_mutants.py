"""The graders are fair and catch every catalogued mistake (tests/catalogues.py lists the kinds).

Proved here, for every exercise:
- a mutant loses points on each test in its `caught_by`, and on no test of another task unless
  that test is listed in its `also_fails` with a reason: one mistake costs the points of its task;
- a correct variant keeps full marks on every grader;
- a lazy submission (catalogued, or generated from the stub) scores 0 on every task;
- every grader test is meant to catch some mutant: a test nothing can fail checks nothing;
- each mutant fails exactly the tests of its signature in autograder/mistake_signatures.json, and
  the class report's diagnosis of its results names its mistake (alone, or among the mistakes
  that fail the same tests): the report's diagnosis rests on what grading really gives.
Every submission is graded on all of its exercise's graders.
"""

import ast

import pytest

from coursekit import paths
from coursekit.report.mistakes import diagnose, grader_test_name, load_mistakes, lost_points, task_of_test

import mistake_signatures
from catalogues import all_submissions, catalogue_paths, load_catalogue
from grader_runs import grade, submission_with
from references import grader_file

SUBMISSIONS = all_submissions()
SIGNATURES = load_mistakes()
STALE_SIGNATURES = "autograder/mistake_signatures.json is out of date: run make mistake-signatures"


def grader_functions(exercise_id):
    tree = ast.parse(grader_file(exercise_id).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_there_is_a_catalogue_for_every_exercise_with_graders():
    graded_exercises = {path.stem.removeprefix("test_") for path in paths.AUTOGRADER.glob("test_*.py")}
    assert graded_exercises <= {path.stem for path in catalogue_paths()}


def test_each_catalogue_has_at_least_twelve_mutants():
    for path in catalogue_paths():
        assert sum(entry.kind == "mutant" for entry in load_catalogue(path)) >= 12, path.name


def test_catalogues_name_real_grader_tests():
    for path in catalogue_paths():
        known = grader_functions(path.stem)
        for entry in load_catalogue(path):
            assert set(entry.caught_by) | set(entry.also_fails) <= known, entry.name


def test_every_grader_test_is_meant_to_catch_some_mutant():
    """With test_catalogued_submission proving each caught_by fails, every grader is failed by one."""
    for path in catalogue_paths():
        caught = {name for entry in load_catalogue(path) for name in entry.caught_by}
        assert grader_functions(path.stem) - caught == set(), path.name


def test_the_signatures_are_those_of_the_catalogued_mistakes():
    """Each catalogued mutant has its signature, with its task and description, and nothing else has one."""
    for path in catalogue_paths():
        catalogued = [(entry.id, entry.task, entry.mistake) for entry in load_catalogue(path) if entry.kind == "mutant"]
        signed = [(mistake.id, mistake.task, mistake.description) for mistake in SIGNATURES.get(path.stem, [])]
        assert signed == catalogued, f"{path.name}: {STALE_SIGNATURES}"


def failed_tests(results):
    """{grader test function name: the task it counts towards} for every test that lost points."""
    return {grader_test_name(test): task_of_test(test) for test in results["tests"] if lost_points(test)}


def scores_by_task(results):
    totals = {}
    for test in results["tests"]:
        totals[test["tags"][1]] = totals.get(test["tags"][1], 0.0) + test["score"]
    return totals


@pytest.mark.parametrize("entry", SUBMISSIONS, ids=[entry.name for entry in SUBMISSIONS])
def test_catalogued_submission(entry, tmp_path):
    folder = submission_with(tmp_path, entry.id, entry.source, exercise=entry.exercise)
    results, _ = grade(folder, select=str(grader_file(entry.exercise)), tmp_path=tmp_path)
    failed = failed_tests(results)
    if entry.kind == "correct":
        assert results["score"] == results["max_score"], f"a correct variant lost {sorted(failed)}"
    elif entry.kind == "lazy":
        paid = {task: score for task, score in scores_by_task(results).items() if score}
        assert not paid, f"{entry.mistake}: doing nothing earned points on {paid}"
    else:
        missed = set(entry.caught_by) - set(failed)
        assert not missed, f"{entry.mistake}\npassed, but should fail: {sorted(missed)}"
        elsewhere = {name for name, task in failed.items() if task != entry.task} - set(entry.also_fails)
        assert not elsewhere, (f"{entry.mistake}\na mistake in {entry.task} also cost points on tests of other "
                               f"tasks: {sorted(elsewhere)} (fix the grader, or list them in also_fails "
                               "with the reason)")
        stale = set(entry.also_fails) - set(failed)
        assert not stale, f"also_fails lists tests that pass: {sorted(stale)}"
        assert_diagnosed(entry, results)


def assert_diagnosed(entry, results):
    mistakes = SIGNATURES.get(entry.exercise, [])
    signature = next((mistake for mistake in mistakes if mistake.id == entry.id), None)
    assert signature is not None and dict(signature.signature) == mistake_signatures.failed_tests(results), \
        STALE_SIGNATURES
    diagnosis = diagnose(results, entry.exercise, mistakes)
    matches = [match for match in diagnosis.matches if signature in match.mistakes]
    assert matches, f"the class report does not recognise {entry.id} from its own results"
    assert all(match.task == entry.task for match in diagnosis.matches), diagnosis
