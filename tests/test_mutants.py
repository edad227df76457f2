"""The graders catch every catalogued mistake, on the test meant to catch it.

tests/mutants/<id>.yml lists submissions made by editing the reference: `kind: mutant` is one
real student mistake and names the grader tests that must fail (`caught_by`); `kind: correct` is
a correct solution written differently, which must keep full marks. Every grader test must be
failed by at least one mutant: a test nothing can fail checks nothing. A mutant is graded on its
`caught_by` tests only (that is the claim to prove); a correct variant on every grader.
"""

import ast
from pathlib import Path

import pytest
import yaml

from grading import grade, grader_names, reference_source, submission_with
from references import grader_file

from coursekit import paths

CATALOGUES = sorted((Path(__file__).parent / "mutants").glob("*.yml"))


def load_catalogue(path):
    entries = yaml.safe_load(path.read_text())
    reference = reference_source(path.stem)
    built = {}
    for entry in entries:
        source = reference
        for edit in entry["replace"]:
            count = source.count(edit["old"])
            assert count == 1, f"{path.name}: {entry['id']}: text to replace occurs {count} times: {edit['old'][:80]!r}"
            source = source.replace(edit["old"], edit["new"])
        assert source != reference, f"{entry['id']} changes nothing"
        ast.parse(source)
        built[entry["id"]] = (entry, source)
    return built


def grader_functions(exercise_id):
    tree = ast.parse(grader_file(exercise_id).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def catalogued():
    """(exercise id, entry, source) for every catalogued submission, at collection time."""
    return [(path.stem, entry, source) for path in CATALOGUES
            for entry, source in load_catalogue(path).values()]


def test_there_is_a_catalogue_for_every_exercise_with_graders():
    graded_exercises = {path.stem.removeprefix("test_") for path in paths.AUTOGRADER.glob("test_*.py")}
    assert graded_exercises <= {path.stem for path in CATALOGUES}


def test_each_catalogue_has_at_least_twelve_mutants():
    for path in CATALOGUES:
        assert sum(entry["kind"] == "mutant" for entry, _ in load_catalogue(path).values()) >= 12


def test_catalogues_name_real_grader_tests():
    for path in CATALOGUES:
        known = grader_functions(path.stem)
        for entry, _ in load_catalogue(path).values():
            assert set(entry.get("caught_by", [])) <= known, entry["id"]
            assert (entry["kind"] == "mutant") == bool(entry.get("caught_by")), entry["id"]


def test_every_grader_test_is_meant_to_catch_some_mutant():
    """With test_catalogued_submission proving each caught_by fails, every grader is failed by one."""
    for path in CATALOGUES:
        caught = {name for entry, _ in load_catalogue(path).values() for name in entry.get("caught_by", [])}
        assert grader_functions(path.stem) - caught == set()


@pytest.mark.parametrize("exercise_id, entry, source", catalogued(),
                         ids=[f"{exercise_id}/{entry['id']}" for exercise_id, entry, _ in catalogued()])
def test_catalogued_submission(exercise_id, entry, source, tmp_path):
    folder = submission_with(tmp_path, entry["id"], source, exercise=exercise_id)
    graders = grader_file(exercise_id)
    # A correct variant must pass every grader; a mutant need only be shown to fail its targets.
    select = [str(graders)] if entry["kind"] == "correct" else [f"{graders}::{name}" for name in entry["caught_by"]]
    results, output = grade(folder, select=select, tmp_path=tmp_path)
    lost = sorted(grader_names(results, failed=True))
    if entry["kind"] == "correct":
        assert results["score"] == results["max_score"], f"a correct variant lost {lost}"
    else:
        assert results["score"] < results["max_score"], "the mutant got full marks"
        missed = set(entry["caught_by"]) - set(lost)
        assert not missed, f"{entry['mistake']}\npassed, but should fail: {sorted(missed)}"
