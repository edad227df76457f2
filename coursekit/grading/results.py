"""Outcomes of grader tests, the scores they add up to, and Gradescope's results.json.

Scores are computed here, in the trusted pytest process, from the outcomes it recorded: nothing a
worker prints or writes takes part.
"""

from dataclasses import dataclass


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


def gradescope_results(outcomes, exercise_ids, *, execution_time, course_id, submission, sandbox):
    """The results.json document Gradescope reads (its 'autograder specifications')."""
    scores = exercise_scores(outcomes, exercise_ids)
    return {
        "score": sum(score.score for score in scores),
        "max_score": sum(score.max_score for score in scores),
        "execution_time": round(execution_time, 3),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": f"{outcome.where}: {outcome.name}",
                "score": outcome.score,
                "max_score": outcome.max_score,
                "status": "passed" if outcome.passed else "failed",
                "output": outcome.feedback if not outcome.passed else "",
                "visibility": "visible",
                "tags": list(dict.fromkeys([outcome.exercise, outcome.where])),
                "extra_data": {"status": outcome.status, "test": outcome.nodeid},
            }
            for outcome in outcomes
        ],
        "extra_data": {
            "course": course_id,
            "submission": submission,
            "sandbox": sandbox,
            "exercises": {score.exercise: {"score": score.score, "max_score": score.max_score,
                                           "passed": score.passed, "tests": score.tests}
                          for score in scores},
        },
    }


def merge_results(documents, exercise_ids):
    """One results.json from runs that each graded some of the exercises (one each, say).

    Equal to the document of one run over them all, save `execution_time`, which is the sum.
    Tests keep the order of `documents`; each exercise's entry comes from the run that graded it.
    """
    exercises = {}
    for document in documents:
        for exercise_id, entry in document["extra_data"]["exercises"].items():
            if entry["tests"] or exercise_id not in exercises:
                exercises[exercise_id] = entry
    ordered = {exercise_id: exercises[exercise_id] for exercise_id in exercise_ids}
    return {
        **documents[0],
        "score": sum(entry["score"] for entry in ordered.values()),
        "max_score": sum(entry["max_score"] for entry in ordered.values()),
        "execution_time": round(sum(document["execution_time"] for document in documents), 3),
        "tests": [test for document in documents for test in document["tests"]],
        "extra_data": {**documents[0]["extra_data"], "exercises": ordered},
    }
