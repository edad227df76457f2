"""Reference = full marks, stub = zero, and what results.json holds."""

from types import SimpleNamespace

import pytest

from coursekit import paths
from coursekit.config import load_course

from grader_runs import grade, submission_with
from gradescope_schema import schema_violations
from references import grader_file

BATCHNORM = str(grader_file("batchnorm"))     # for submissions that hold the batchnorm file only


@pytest.fixture(scope="module")
def reference_results(tmp_path_factory):
    return grade(solutions=True, tmp_path=tmp_path_factory.mktemp("reference"))[0]


def test_reference_gets_full_marks(reference_results):
    course = load_course(paths.COURSE_FILE)
    assert reference_results["score"] == reference_results["max_score"] == sum(e.points for e in course.exercises)
    assert all(test["status"] == "passed" for test in reference_results["tests"])


@pytest.fixture(scope="module")
def stub_grading(tmp_path_factory):
    """(results, output) of grading the released, untouched stubs."""
    return grade(paths.ASSIGNMENTS, tmp_path=tmp_path_factory.mktemp("stubs"))


def test_untouched_stubs_get_zero(stub_grading):
    results, output = stub_grading
    assert results["score"] == 0
    assert results["max_score"] > 0
    assert all(f"NotImplementedError: {test['tags'][0]}." in test["output"] for test in results["tests"]), output
    assert schema_violations(results) == []


def test_results_json_follows_gradescope_format(reference_results):
    assert schema_violations(reference_results) == []
    assert {"score", "max_score", "execution_time", "output", "tests", "extra_data"} <= set(reference_results)
    course = load_course(paths.COURSE_FILE)
    for test in reference_results["tests"]:
        assert {"name", "number", "score", "max_score", "status", "output", "visibility", "tags"} <= set(test)
        assert test["status"] in ("passed", "failed")
        assert test["tags"][0] in course.ids and test["tags"][1].startswith(test["tags"][0] + ".")
        assert test["visibility"] == course.exercise(test["tags"][0]).visibility
        assert test["number"].split(".")[0] == str(course.ids.index(test["tags"][0]) + 1)
    numbers = [test["number"] for test in reference_results["tests"]]
    assert sorted(numbers) == numbers and len(set(numbers)) == len(numbers)
    assert "No points lost." in reference_results["output"]
    exercises = reference_results["extra_data"]["exercises"]
    assert sorted(exercises) == sorted(course.ids)
    for exercise in course.exercises:
        assert exercises[exercise.id]["score"] == exercises[exercise.id]["max_score"] == exercise.points
    assert sum(exercise["score"] for exercise in exercises.values()) == reference_results["score"]


def test_missing_file_scores_zero_with_a_clear_message(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    results, _ = grade(empty, tmp_path=tmp_path)
    course = load_course(paths.COURSE_FILE)
    assert results["score"] == 0 and results["max_score"] == sum(e.points for e in course.exercises)
    assert [test["tags"] for test in results["tests"]] == [[e.id] for e in course.exercises]
    for test, exercise in zip(results["tests"], course.exercises):
        assert test["max_score"] == exercise.points and test["extra_data"]["status"] == "not graded"
        assert f"{exercise.id}.py was not found" in test["output"]


def test_a_one_exercise_submission_reports_each_missing_exercise_once(tmp_path):
    folder = submission_with(tmp_path, "only_batchnorm", (paths.SOLUTIONS / "batchnorm" / "batchnorm.py").read_text())
    results, output = grade(folder, tmp_path=tmp_path)
    course = load_course(paths.COURSE_FILE)
    missing = [e for e in course.exercises if e.id != "batchnorm"]
    assert results["score"] == course.exercise("batchnorm").points
    assert results["max_score"] == sum(e.points for e in course.exercises)
    for exercise in missing:
        assert output.count(f"{exercise.module_file} was not found") == 1, output
        assert f"-{exercise.points} {exercise.id}: all tests [not graded]" in output
        assert results["extra_data"]["exercises"][exercise.id]["max_score"] == exercise.points
    assert len(results["tests"]) == len(missing) + sum(t["tags"][0] == "batchnorm" for t in results["tests"])


def test_exercise_option_grades_that_exercise_alone(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    results, _ = grade(empty, tmp_path=tmp_path, select=[str(paths.AUTOGRADER), "--exercise", "dropout"])
    assert list(results["extra_data"]["exercises"]) == ["dropout"]
    assert results["max_score"] == load_course(paths.COURSE_FILE).exercise("dropout").points


def test_a_file_that_is_not_utf8_gets_a_message_saying_to_save_it_as_utf8(tmp_path):
    folder = tmp_path / "latin1"
    (folder / "batchnorm").mkdir(parents=True)
    (folder / "batchnorm" / "batchnorm.py").write_bytes("# caf\u00e9\nimport torch\n".encode("latin-1"))
    results, _ = grade(folder, tmp_path=tmp_path, select=BATCHNORM)
    assert results["score"] == 0 and len(results["tests"]) == 1
    assert "not valid UTF-8" in results["tests"][0]["output"] and "save it as UTF-8" in results["tests"][0]["output"]


def test_syntax_error_scores_zero_and_names_the_line(tmp_path):
    folder = submission_with(tmp_path, "broken", "import torch\n\ndef batch_norm(x:\n    pass\n")
    results, _ = grade(folder, tmp_path=tmp_path, select=BATCHNORM)
    assert results["score"] == 0
    assert all("SyntaxError" in test["output"] and "batchnorm.py, line 3" in test["output"]
               for test in results["tests"]), results["tests"][0]["output"]


def test_flat_layout_is_found(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "batchnorm.py").write_text((paths.SOLUTIONS / "batchnorm" / "batchnorm.py").read_text())
    results, _ = grade(tmp_path / "flat", tmp_path=tmp_path,
                       select="autograder/test_batchnorm.py::test_hand_computed_example")
    assert results["score"] == results["max_score"] > 0


def test_feedback_never_shows_grader_source(stub_grading):
    results, output = stub_grading
    source_lines = {line.strip() for grader in paths.AUTOGRADER.glob("test_*.py")
                    for line in grader.read_text().splitlines() if len(line.strip()) > 25}
    for test in results["tests"]:
        assert not any(line in test["output"] for line in source_lines), test["output"]
    assert "def test_" not in output


def test_two_copies_of_the_file_is_a_clear_error(tmp_path):
    folder = submission_with(tmp_path, "both", (paths.SOLUTIONS / "batchnorm" / "batchnorm.py").read_text())
    (folder / "batchnorm.py").write_text("")
    results, _ = grade(folder, tmp_path=tmp_path, select="autograder/test_batchnorm.py::test_backward_2d")
    assert results["score"] == 0
    assert "both batchnorm/batchnorm.py and batchnorm.py" in results["tests"][0]["output"]


def test_a_run_stopped_early_still_reports_every_selected_test(tmp_path, stub_grading):
    results, _ = grade(paths.ASSIGNMENTS, tmp_path=tmp_path, select=[BATCHNORM, "-x"])
    assert len(results["tests"]) == sum(test["tags"][0] == "batchnorm" for test in stub_grading[0]["tests"])
    assert sum(t["extra_data"]["status"] == "not graded" and t["output"].strip() == "this test did not run"
               for t in results["tests"]) == len(results["tests"]) - 1


class _Item:
    """What the teardown hook reads of a pytest item: its exercise marker and the config."""

    def __init__(self, exercise_id, config):
        self.exercise_id, self.config = exercise_id, config

    def get_closest_marker(self, name):
        return SimpleNamespace(args=(self.exercise_id,)) if name == "exercise" else None


def test_a_run_over_several_exercises_stops_each_worker_after_its_last_test():
    from coursekit.grading import plugin

    class Session:
        closed = []

        def close_exercise(self, exercise_id):
            self.closed.append(exercise_id)

    config = type("Config", (), {"stash": {plugin._SESSION: Session()}})()
    items = [_Item(exercise_id, config) for exercise_id in ("batchnorm", "batchnorm", "dropout", "dropout")]
    for item, nextitem in zip(items, items[1:] + [None]):
        plugin.pytest_runtest_teardown(item, nextitem)
    assert Session.closed == ["batchnorm", "dropout"]
