"""Outcomes of grader tests, the scores they add up to, and Gradescope's results.json.

Scores are computed here, in the trusted pytest process, from the outcomes it recorded: nothing a
worker prints or writes takes part. What the student reads (each test's output and the top-level
summary) is Markdown, written by gradescope_output.py; tests/gradescope_schema.py describes the
document Gradescope accepts (https://gradescope-autograders.readthedocs.io/en/latest/specs/).
"""

from collections import Counter
from dataclasses import dataclass

from coursekit.grading.gradescope_output import feedback_markdown, split_feedback, summary_markdown


@dataclass(frozen=True)
class TestOutcome:
    nodeid: str
    name: str           # the student-facing description: the test's docstring, first paragraph
    exercise: str
    task: str
    max_score: float
    score: float
    status: str         # one of failures.STATUSES, or "grader error"
    feedback: str       # what the student reads when it failed; "" when it passed
    tests: int = 1      # the grader tests it stands for: all of an exercise's, when its file was not graded

    @property
    def passed(self):
        return self.status == "passed"

    @property
    def where(self):
        """"exercise.task", or the exercise alone for an outcome that stands for all its tests."""
        return f"{self.exercise}.{self.task}" if self.task else self.exercise


@dataclass(frozen=True)
class ExerciseScore:
    exercise: str
    score: float
    max_score: float
    passed: int
    tests: int


def exercise_scores(outcomes, exercise_ids):
    """One ExerciseScore per exercise id, in the given order (exercises without tests included)."""
    scores = []
    for exercise_id in exercise_ids:
        own = [outcome for outcome in outcomes if outcome.exercise == exercise_id]
        scores.append(ExerciseScore(exercise_id, sum(o.score for o in own), sum(o.max_score for o in own),
                                    sum(o.passed for o in own), sum(o.tests for o in own)))
    return scores


def gradescope_numbers(outcomes, course_ids):
    """Gradescope's `number` for each outcome, which it sorts the tests by: "<exercise>.<test>".

    <exercise> is the exercise's position in course.yml (1 for the first), whichever exercises the
    run graded, so a test's number does not depend on the run (merge_results relies on it);
    <test> counts the exercise's outcomes in order, from 1. Both are zero-padded to a fixed width
    (the number of exercises in the course; the exercise's outcomes in the run), e.g. "2.01" ...
    "2.12", so that the order is the same whether numbers are compared as text, as decimals or as
    version numbers: Gradescope does not document which.
    """
    per_exercise = Counter(outcome.exercise for outcome in outcomes)
    exercise_width = len(str(len(course_ids)))
    counted = Counter()
    numbers = []
    for outcome in outcomes:
        counted[outcome.exercise] += 1
        test_width = len(str(per_exercise[outcome.exercise]))
        position = course_ids.index(outcome.exercise) + 1
        numbers.append(f"{position:0{exercise_width}}.{counted[outcome.exercise]:0{test_width}}")
    return numbers


def _test_data(outcome):
    """A test's extra_data: its status and node id, and for a failure its reason and hint as plain
    text (what `output` shows as Markdown), for the class report to read back as written."""
    data = {"status": outcome.status, "test": outcome.nodeid}
    if not outcome.passed:
        data["reason"], data["hint"] = split_feedback(outcome.feedback)
    return data


def gradescope_results(outcomes, exercise_ids, *, execution_time, course, submission, sandbox):
    """The results.json document Gradescope reads (its 'autograder specifications').

    `outcomes` in course order (each exercise's tests in their run order), `exercise_ids` the
    exercises graded, in course order; `course` the config.Course, whose exercises set each test's
    `visibility`. Each test's `output` and the top-level `output` (the run's summary) are Markdown.
    """
    scores = exercise_scores(outcomes, exercise_ids)
    tests = [
        {
            "name": f"{outcome.where}: {outcome.name}",
            "number": number,
            "score": outcome.score,
            "max_score": outcome.max_score,
            "status": "passed" if outcome.passed else "failed",
            "output": feedback_markdown(outcome.feedback) if not outcome.passed else "",
            "output_format": "md",
            "visibility": course.exercise(outcome.exercise).visibility,
            "tags": list(dict.fromkeys([outcome.exercise, outcome.where])),   # the summary groups by tags[-1]
            "extra_data": _test_data(outcome),
        }
        for outcome, number in zip(outcomes, gradescope_numbers(outcomes, course.ids))
    ]
    exercises = {score.exercise: {"score": score.score, "max_score": score.max_score,
                                  "passed": score.passed, "tests": score.tests}
                 for score in scores}
    return {
        "score": sum(score.score for score in scores),
        "max_score": sum(score.max_score for score in scores),
        "execution_time": round(execution_time, 3),
        "output": summary_markdown(exercises, tests),
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "course": course.id,
            "submission": submission,
            "sandbox": sandbox,
            "exercises": exercises,
        },
    }


def merge_results(documents, exercise_ids):
    """One results.json from runs that each graded some of the exercises (one each, say).

    Equal to the document of one run over them all, save `execution_time`, which is the sum.
    Tests keep the order of `documents` (and their numbers); each exercise's entry comes from the
    run that graded it; the summary in `output` is written again, over them all.
    """
    exercises = {}
    for document in documents:
        for exercise_id, entry in document["extra_data"]["exercises"].items():
            if entry["tests"] or exercise_id not in exercises:
                exercises[exercise_id] = entry
    ordered = {exercise_id: exercises[exercise_id] for exercise_id in exercise_ids}
    tests = [test for document in documents for test in document["tests"]]
    return {
        **documents[0],
        "score": sum(entry["score"] for entry in ordered.values()),
        "max_score": sum(entry["max_score"] for entry in ordered.values()),
        "execution_time": round(sum(document["execution_time"] for document in documents), 3),
        "output": summary_markdown(ordered, tests),
        "tests": tests,
        "extra_data": {**documents[0]["extra_data"], "exercises": ordered},
    }
