"""The release is what nbgrader makes from the solutions, holds no solution code, and works."""

import filecmp
import json
import shutil

import pytest

from coursekit import paths
from coursekit.config import load_course
from coursekit.release import ReleaseError, exercise_fingerprints, release, scan_for_leaks
from coursekit.stubs import fill_stub

from grader_runs import grade

EXERCISES = load_course(paths.COURSE_FILE).exercises


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    """Every exercise released again, through nbgrader, into a scratch folder."""
    root = tmp_path_factory.mktemp("release")
    for exercise in EXERCISES:
        release(exercise, release_root=root / "release", build=root / "build")
    return root / "release"


def tree(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_committed_assignment_is_the_release(fresh_release, exercise):
    committed, fresh = paths.ASSIGNMENTS / exercise.id, fresh_release / exercise.id
    assert tree(committed) == tree(fresh)
    for name in tree(fresh):
        assert filecmp.cmp(committed / name, fresh / name, shallow=False), (
            f"assignments/{exercise.id}/{name} is not what the release makes: "
            "run `python -m coursekit release` and commit the result")


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_released_files_hold_no_solution_code(exercise):
    assert scan_for_leaks(paths.ASSIGNMENTS / exercise.id, exercise_fingerprints(exercise)) == []


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_released_notebook_has_no_outputs_and_locks_its_checks(exercise):
    notebook = json.loads((paths.ASSIGNMENTS / exercise.id / f"{exercise.id}.ipynb").read_text())
    code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code_cells and all(not cell.get("outputs") for cell in code_cells)
    assert any(cell["metadata"].get("nbgrader", {}).get("locked") for cell in notebook["cells"])


def test_a_leak_stops_the_release_and_keeps_the_old_one(tmp_path, monkeypatch):
    exercise = EXERCISES[0]
    (tmp_path / "release" / exercise.id).mkdir(parents=True)
    (tmp_path / "release" / exercise.id / "kept.txt").write_text("previous release")
    monkeypatch.setattr("coursekit.release.make_stub", lambda source, *args, **kwargs: source)
    with pytest.raises(ReleaseError, match="would leak solution code"):
        release(exercise, release_root=tmp_path / "release", build=tmp_path / "build")
    assert (tmp_path / "release" / exercise.id / "kept.txt").read_text() == "previous release"


def test_a_corrupted_notebook_is_a_clear_error_and_keeps_the_old_release(tmp_path):
    exercise = EXERCISES[0]
    solutions = tmp_path / "solutions"
    shutil.copytree(paths.SOLUTIONS / exercise.id, solutions / exercise.id)
    (solutions / exercise.id / f"{exercise.id}.ipynb").write_text('{"cells": [ this is not json')
    (tmp_path / "release" / exercise.id).mkdir(parents=True)
    with pytest.raises(ReleaseError, match=f"{exercise.id}.ipynb: not a valid notebook"):
        release(exercise, release_root=tmp_path / "release", build=tmp_path / "build", solutions=solutions)
    assert (tmp_path / "release" / exercise.id).is_dir()


def test_student_path_release_then_solve_then_grade(tmp_path):
    """Take the release, fill every stub with the reference code, grade: full marks."""
    submission = tmp_path / "student"
    shutil.copytree(paths.ASSIGNMENTS, submission)
    for exercise in EXERCISES:
        stub_file = submission / exercise.id / exercise.module_file
        solution = (paths.SOLUTIONS / exercise.id / exercise.module_file).read_text()
        stub_file.write_text(fill_stub(stub_file.read_text(), solution))
    results, output = grade(submission, tmp_path=tmp_path)
    assert results["score"] == results["max_score"] > 0, output[-3000:]
