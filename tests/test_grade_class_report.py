"""What `grade-class` tells the instructor, checked without grading anyone: the CSV's points-possible row
and status column, the class summary, the folders it refuses, and the command that finishes a stopped run.

The results.json documents here are written by the grader's own code (gradescope_results, with the
messages of submission.py and the worker), so the status column is read from what a grading writes.
tests/test_grade_class.py grades a real class and checks the same columns on it.
"""

import csv
import json
import shlex

import pytest

from coursekit import paths
from coursekit.batch import grade_class as grade_class_module
from coursekit.batch.csv_export import POINTS_POSSIBLE, write_class_csv
from coursekit.batch.grade_class import grade_class
from coursekit.batch.layout import LayoutError, find_submissions
from coursekit.batch.notebooks import notebook_problems
from coursekit.batch.records import PREVIOUS_RESULTS, ClassGrading, class_summary
from coursekit.batch.runs import ClassOptions, GradingResult
from coursekit.batch.status import student_status
from coursekit.cli import main as coursekit_main
from coursekit.config import load_course
from coursekit.grading.results import TestOutcome as Outcome
from coursekit.grading.results import gradescope_results
from coursekit.grading.submission import locate_module_file
from coursekit.grading.submitted_exercise import describe_raised

COURSE = load_course(paths.COURSE_FILE)


def read_rows(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def outcome(exercise_id, task, status="passed", feedback="", points=1.0):
    return Outcome(nodeid=f"autograder/test_{exercise_id}.py::test_{task or 'all'}", name="checks it",
                       exercise=exercise_id, task=task, max_score=points,
                       score=points if status == "passed" else 0.0, status=status, feedback=feedback)


def set_aside(exercise_id, problem):
    """The one outcome the grader writes for an exercise whose file it set aside (selection.py)."""
    return outcome(exercise_id, "", "not graded", problem, points=float(COURSE.exercise(exercise_id).points))


def results_document(outcomes):
    return gradescope_results(outcomes, COURSE.ids, execution_time=1.0, course=COURSE, submission="s",
                              sandbox={})


def set_aside_problem(tmp_path, exercise_id, files):
    """What submission.py says of a folder holding `files` ({relative path: bytes}) for the exercise."""
    folder = tmp_path / f"{exercise_id}-submission"
    for relative, data in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)
    folder.mkdir(exist_ok=True)
    path, problem = locate_module_file(folder, COURSE.exercise(exercise_id))
    assert path is None
    return problem


def test_the_csv_starts_with_the_points_possible_and_imports_as_a_table(tmp_path):
    results = results_document([outcome("batchnorm", "batch_norm", points=7.0)])
    graded = {"bo": (None, "grader failed: it broke"), "ada": (results, "graded")}
    write_class_csv(tmp_path / "grades.csv", COURSE, graded)
    rows = read_rows(tmp_path / "grades.csv")
    assert [row["student"] for row in rows] == [POINTS_POSSIBLE, "ada", "bo"]
    assert {exercise.id: float(rows[0][exercise.id]) for exercise in COURSE.exercises} == \
        {exercise.id: exercise.points for exercise in COURSE.exercises}
    assert float(rows[0]["total"]) == sum(exercise.points for exercise in COURSE.exercises)
    assert rows[0]["status"] == rows[0]["late"] == ""
    assert float(rows[1]["batchnorm"]) <= float(rows[0]["batchnorm"])


def test_the_status_names_each_exercise_that_was_not_graded_and_why(tmp_path):
    from coursekit.worker.serve import describe_error  # the worker's own description (imports torch)
    try:
        compile("import torch\n\ndef dropout(x, p:\n    return x\n", "dropout.py", "exec")
    except SyntaxError as error:
        import_failure = describe_raised(describe_error(error, "dropout.py"), "importing dropout.py")
    problems = {"weight_decay": set_aside_problem(tmp_path, "weight_decay", {}),
                "early_stopping": set_aside_problem(tmp_path, "early_stopping", {"early_stopping.py": b"x = '\xff'\n"}),
                "augmentation": set_aside_problem(tmp_path, "augmentation", {"augmentation.py": b"",
                                                                             "augmentation/augmentation.py": b""})}
    results = results_document([outcome("batchnorm", "batch_norm"),
                                outcome("batchnorm", "batch_norm_backward", "error in your code", "your code raised"),
                                outcome("dropout", "dropout", "not graded", import_failure),
                                outcome("dropout", "dropout2d", "not graded", import_failure),
                                *(set_aside(exercise_id, problem) for exercise_id, problem in problems.items())])
    assert student_status(results) == ("graded; dropout: SyntaxError line 3; weight_decay: missing; "
                                       "early_stopping: not UTF-8; augmentation: two copies")


def test_a_student_whose_every_exercise_ran_is_plainly_graded_whatever_the_score():
    results = results_document([outcome("batchnorm", "batch_norm", "failed", "wrong mean"),
                                outcome("dropout", "dropout", "error in your code", "your code raised an error"),
                                outcome("weight_decay", "sgd", "timed out", "your code timed out")])
    assert student_status(results) == "graded"
    assert student_status(None, "the grader broke") == "grader failed: the grader broke"


def test_a_notebook_that_is_not_valid_json_is_named_in_the_status(tmp_path):
    student = tmp_path / "ada"
    (student / "dropout").mkdir(parents=True)
    (student / "dropout" / "dropout.ipynb").write_text('{"cells": [\n  {"cell_type": "markdown",\n')
    (student / "batchnorm.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4}))
    (student / "weight_decay.ipynb").write_bytes(b'{"cells": "\xff"}')
    problems = notebook_problems(student, COURSE)
    assert problems == ["dropout/dropout.ipynb: not valid JSON (line 3)",
                        "weight_decay.ipynb: not valid JSON (not UTF-8 text)"]
    results = results_document([outcome("batchnorm", "batch_norm")])
    assert student_status(results, notebooks=problems) == "graded; " + "; ".join(problems)
    assert student_status(None, "it broke", problems).startswith("grader failed: it broke; dropout/dropout.ipynb")


def test_the_class_summary_counts_the_class_and_gives_each_exercises_mean(tmp_path):
    full = results_document([outcome("batchnorm", "batch_norm", points=8.0), outcome("dropout", "dropout", points=2.0)])
    half = results_document([outcome("batchnorm", "batch_norm", points=4.0),
                             outcome("dropout", "dropout", "not graded", "dropout.py could not be loaded: your code "
                                                                       "exited with code 0 while being imported")])
    graded = {"ada": (full, student_status(full)), "bo": (half, student_status(half)),
              "cy": (None, student_status(None, "it broke"))}
    assert graded["bo"][1] == "graded; dropout: not loaded: exited with code 0 while being imported"
    lines = class_summary(COURSE, graded, tmp_path / "grades.csv")
    assert lines[0].startswith("class: 3 student(s), 2 graded, 1 not graded (grader failed); 1 of the graded have")
    assert "batchnorm 6 / 74, dropout 1 / 77, weight_decay 0 / 59" in lines[1]
    assert lines[1].endswith(f"total 7 / {sum(exercise.points for exercise in COURSE.exercises)}")
    assert lines[-1].startswith(f"class CSV: {tmp_path / 'grades.csv'}")


def test_one_students_folder_is_refused_rather_than_graded_as_a_class(tmp_path, capsys):
    ada = tmp_path / "submitted" / "ada"
    for exercise_id in ("batchnorm", "dropout"):
        (ada / exercise_id).mkdir(parents=True)
        (ada / exercise_id / f"{exercise_id}.py").write_text("")
    with pytest.raises(LayoutError, match="looks like one student's submission"):
        find_submissions(ada, exercise_ids=COURSE.ids)
    assert [s.student for s in find_submissions(tmp_path, exercise_ids=COURSE.ids)] == ["ada"]
    status = coursekit_main(["grade-class", str(ada), "--out", str(tmp_path / "out"), "--no-progress"])
    error = capsys.readouterr().err
    assert status == 2 and "one student's submission" in error and "batchnorm, dropout" in error
    assert not (tmp_path / "out").exists()


def test_a_file_given_for_the_class_folder_is_named_as_a_file(tmp_path, capsys):
    (tmp_path / "batchnorm.py").write_text("")
    assert coursekit_main(["grade-class", str(tmp_path / "batchnorm.py"), "--out", str(tmp_path / "out")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


class _NoServer:
    """Stands in for the grading server: these tests record results themselves."""

    def __init__(self, *args):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *error):
        return False

    def start(self):
        pass


def _stored_class(root, out, students):
    """Student folders, each with a results.json from an earlier run (scores of 1 point)."""
    for student in students:
        (root / student).mkdir(parents=True)
        results = results_document([outcome("batchnorm", "batch_norm")])
        results["extra_data"]["batch"] = {"student": student, "fingerprint": "earlier"}
        (out / student).mkdir(parents=True)
        (out / student / "results.json").write_text(json.dumps(results))


def test_an_interrupted_regrade_names_the_command_that_grades_only_the_rest(tmp_path, monkeypatch):
    root, out = tmp_path / "class", tmp_path / "grades"
    _stored_class(root, out, ["ada", "bo", "cy"])
    regraded = results_document([outcome("batchnorm", "batch_norm", points=5.0)])

    def grade_one_then_stop(grading, server, jobs, progress):
        grading.record("ada", GradingResult(regraded, "log"))
        raise KeyboardInterrupt

    monkeypatch.setattr(grade_class_module, "GradingServer", _NoServer)
    monkeypatch.setattr(grade_class_module, "run_local", grade_one_then_stop)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        grade_class(root, out, jobs=2, regrade=True, progress=False, echo=lines.append,
                    options=ClassOptions(sandbox="none"))
    assert lines[0].startswith(f"interrupted: 1 of 3 submission(s) were graded and saved in {out}; the other 2")
    assert "without --regrade" in lines[0]
    words = shlex.split(lines[1])
    assert words[1:] == ["-m", "coursekit", "grade-class", str(root), "--out", str(out), "--jobs", "2",
                         "--sandbox", "none"]
    assert json.loads((out / "ada" / "results.json").read_text())["score"] == 5
    assert sorted(path.parent.name for path in out.glob(f"*/{PREVIOUS_RESULTS}")) == ["ada", "bo", "cy"]
    rerun = ClassGrading(root, out, ClassOptions())               # what that command grades
    assert [submission.student for submission in rerun.todo] == ["bo", "cy"]
    assert [row["student"] for row in read_rows(out / "grades.csv")] == [POINTS_POSSIBLE, "ada"]


def test_an_interrupted_run_without_regrade_says_to_run_the_same_command(tmp_path, monkeypatch):
    root, out = tmp_path / "class", tmp_path / "grades"
    _stored_class(root, out, ["ada"])
    (root / "bo").mkdir()

    def stop(grading, server, jobs, progress):
        raise KeyboardInterrupt

    monkeypatch.setattr(grade_class_module, "GradingServer", _NoServer)
    monkeypatch.setattr(grade_class_module, "run_local", stop)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        grade_class(root, out, progress=False, echo=lines.append)
    assert lines[0].endswith("; to grade the rest, run the same command again:")
    assert shlex.split(lines[1])[1:] == ["-m", "coursekit", "grade-class", str(root), "--out", str(out)]
    assert not list(out.glob(f"*/{PREVIOUS_RESULTS}"))


def test_the_status_reads_reasons_from_results_written_before_they_were_kept_as_data():
    """results.json written before extra_data kept each failure's reason: read from its Markdown output."""
    document = results_document([set_aside("dropout", "dropout.py was not found in the submission"),
                                 outcome("batchnorm", "batch_norm")])
    for test in document["tests"]:
        test["extra_data"].pop("reason", None)
        test["extra_data"].pop("hint", None)
    assert student_status(document) == "graded; dropout: missing"
