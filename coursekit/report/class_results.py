"""A grading folder (grade-class's --out) read back: each student's results, and what the class did.

    grades/grades.csv              who was graded, their status and what was late (csv_export.py)
    grades/<student>/results.json  each graded student's results (Gradescope's format, extra_data)

`read_class` reads them; `exercise_summary` gives, for one exercise, what the report shows: the
scores, each test's pass rate, the statuses that are not plain failures and who they hit, and the
catalogued mistakes the students' results match (mistakes.py).
"""

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from coursekit.batch.csv_export import POINTS_POSSIBLE
from coursekit.batch.status import GRADER_FAILED, not_graded_exercises
from coursekit.report.mistakes import (
    NO_RESULT,
    diagnose,
    grader_test_name,
    lost_points,
    status_of_test,
    task_of_test,
)

# results.json extra_data statuses that are not a plain wrong answer: the report lists who they hit
UNUSUAL_STATUSES = (*NO_RESULT, "forbidden API")


class ReportError(Exception):
    """A grading folder the report cannot be made from (the message says why and what to do)."""


@dataclass(frozen=True)
class Student:
    name: str
    results: dict | None        # None: the grader failed on this student (status says why)
    status: str
    late: str = ""

    def score(self, exercise_id):
        """The student's score on one exercise: extra_data.exercises' entry, or the sum of its tests."""
        entry = (self.results or {}).get("extra_data", {}).get("exercises", {}).get(exercise_id)
        return entry["score"] if entry else sum(test["score"] for test in self.tests(exercise_id))

    def tests(self, exercise_id):
        return [test for test in (self.results or {}).get("tests", []) if test["tags"][0] == exercise_id]


@dataclass
class TestRate:
    name: str                   # grader test name (node id after "::")
    where: str                  # "exercise.task"
    description: str            # what the student reads: results.json's name without its "where: "
    passed: int = 0
    graded: int = 0

    @property
    def rate(self):
        return self.passed / self.graded if self.graded else 0.0


@dataclass
class ExerciseSummary:
    exercise: str
    points: float
    scores: list = field(default_factory=list)        # [(student, score)] of students graded on it
    tests: list = field(default_factory=list)         # [TestRate], worst pass rate first
    unusual: dict = field(default_factory=dict)       # {status: [student, ...]}
    not_graded: dict = field(default_factory=dict)    # {student: why} (missing, SyntaxError line 3, ...)
    diagnoses: dict = field(default_factory=dict)     # {student: Diagnosis}
    unexplained: list = field(default_factory=list)   # students who lost points no catalogued mistake explains

    @property
    def matched_students(self):
        """{mistakes.Match: [student, ...]}: each match found, and the students whose results it matches."""
        students = {}
        for student, diagnosis in self.diagnoses.items():
            for match in diagnosis.matches:
                students.setdefault(match, []).append(student)
        return students


def _read_csv(path):
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
    except FileNotFoundError:
        raise ReportError(f"{path} does not exist: give the folder grade-class wrote (its --out, "
                          "default grades/)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ReportError(f"{path} cannot be read: {error}") from None
    if rows and not {"student", "status"} <= set(rows[0]):
        raise ReportError(f"{path} is not a class CSV written by grade-class (no student and status columns)")
    return [row for row in rows if row["student"] != POINTS_POSSIBLE]


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_test(test):
    """Whether a results.json test has what the report reads: tags, scores, its node id."""
    return (isinstance(test, dict) and isinstance(test.get("tags"), list) and bool(test["tags"])
            and all(isinstance(tag, str) for tag in test["tags"]) and isinstance(test.get("name"), str)
            and _is_number(test.get("score")) and _is_number(test.get("max_score"))
            and isinstance(test.get("extra_data"), dict) and isinstance(test["extra_data"].get("test"), str))


def _read_results(path):
    """A student's results.json, or None when it is absent or not what grading writes."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not (isinstance(document, dict) and _is_number(document.get("score")) and _is_number(document.get("max_score"))
            and isinstance(document.get("tests"), list) and all(map(_is_test, document["tests"]))):
        return None
    return document


def read_class(grades_dir):
    """Every student of grades.csv, in its order, with their results.json (None where absent or broken)."""
    grades_dir = Path(grades_dir)
    if not grades_dir.is_dir():
        raise ReportError(f"{grades_dir} is not a folder: give the folder grade-class wrote (its --out)")
    students = []
    for row in _read_csv(grades_dir / "grades.csv"):
        results = _read_results(grades_dir / row["student"] / "results.json")
        status = row["status"]
        if results is None and not status.startswith(GRADER_FAILED):
            status = f"{GRADER_FAILED}: its results.json is missing or unreadable"
        students.append(Student(row["student"], results, status, row.get("late", "")))
    return students


def description_of_test(test):
    """What a results.json test checks, as the student reads it: its name without the "where: " prefix."""
    return test["name"].removeprefix(f"{test['tags'][-1]}: ")


def exercise_summary(exercise, students, mistakes):
    """The ExerciseSummary of one course.yml exercise over `students`, with the catalogued `mistakes`."""
    summary = ExerciseSummary(exercise.id, exercise.points)
    rates = {}
    for student in students:
        if student.results is None:
            continue
        tests = student.tests(exercise.id)
        reason = not_graded_exercises(student.results).get(exercise.id)
        summary.scores.append((student.name, student.score(exercise.id)))
        if reason is not None or not tests:
            summary.not_graded[student.name] = reason or "no results for this exercise"
            continue
        for test in tests:
            name = grader_test_name(test)
            rate = rates.setdefault(name, TestRate(name, test["tags"][-1], description_of_test(test)))
            rate.graded += 1
            rate.passed += not lost_points(test)
            status = status_of_test(test)
            if status in UNUSUAL_STATUSES and student.name not in summary.unusual.get(status, []):
                summary.unusual.setdefault(status, []).append(student.name)
        _diagnose(summary, student, tests, mistakes)
    summary.tests = sorted(rates.values(), key=lambda rate: rate.rate)      # stable: ties in grader order
    return summary


def _diagnose(summary, student, tests, mistakes):
    diagnosis = diagnose(student.results, summary.exercise, mistakes)
    if diagnosis is None:
        return
    summary.diagnoses[student.name] = diagnosis
    if {task_of_test(test) for test in tests if lost_points(test)} - diagnosis.explained:
        summary.unexplained.append(student.name)
