"""The graders catch every catalogued mistake, on the test meant to catch it.

tests/mutants/<id>.yml lists submissions made by editing the reference: `kind: mutant` is one
real student mistake and names the grader tests that must fail (`caught_by`); `kind: correct` is
a correct solution written differently, which must keep full marks. Every grader test must be
failed by at least one mutant: a test nothing can fail checks nothing.
"""

import ast
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from grading import grade, grader_names, submission_with

from coursekit import paths

CATALOGUES = sorted((Path(__file__).parent / "mutants").glob("*.yml"))


def load_catalogue(path):
    entries = yaml.safe_load(path.read_text())
    reference = (paths.SOLUTIONS / path.stem / f"{path.stem}.py").read_text()
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
    tree = ast.parse((paths.AUTOGRADER / f"test_{exercise_id}.py").read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(exercise id, entry id) -> (entry, results.json) for every catalogued submission."""
    jobs = []
    for path in CATALOGUES:
        for entry_id, (entry, source) in load_catalogue(path).items():
            folder = submission_with(tmp_path_factory.mktemp(entry_id), entry_id, source, exercise=path.stem)
            jobs.append((path.stem, entry_id, entry, folder))
    workers = 1 if os.environ.get("PYTEST_XDIST_WORKER") else max(1, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {(exercise_id, entry_id): (entry, pool.submit(grade, folder, tmp_path=folder))
                   for exercise_id, entry_id, entry, folder in jobs}
    return {key: (entry, future.result()[0]) for key, (entry, future) in futures.items()}


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


def test_every_mutant_loses_points_where_it_should(graded):
    for (exercise_id, entry_id), (entry, results) in graded.items():
        if entry["kind"] != "mutant":
            continue
        assert results["score"] < results["max_score"], f"{exercise_id}/{entry_id} got full marks"
        missed = set(entry["caught_by"]) - grader_names(results, failed=True)
        assert not missed, f"{exercise_id}/{entry_id} ({entry['mistake']}) passed {sorted(missed)}"


def test_correct_variants_keep_full_marks(graded):
    for (exercise_id, entry_id), (entry, results) in graded.items():
        if entry["kind"] == "correct":
            lost = sorted(grader_names(results, failed=True))
            assert results["score"] == results["max_score"], f"{exercise_id}/{entry_id} lost {lost}"


def test_every_grader_test_is_failed_by_some_mutant(graded):
    for path in CATALOGUES:
        failed = set()
        for (exercise_id, _), (entry, results) in graded.items():
            if exercise_id == path.stem and entry["kind"] == "mutant":
                failed |= grader_names(results, failed=True)
        assert grader_functions(path.stem) - failed == set()
