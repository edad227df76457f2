"""Diagnosis by known mistakes: which catalogued mistakes a student's results match.

Each exercise's catalogue of mutants (tests/mutants/<id>.yml: one real student mistake each) is
graded by the real graders, and the tests each mistake loses points on, with how each failed
(its status: a wrong result, an error raised, a forbidden API), are its *signature*;
tests/mistake_signatures.py writes them to autograder/mistake_signatures.json and
tests/test_mutants.py checks them each time it grades the catalogue. Nothing here is written by hand.

A mistake made in task T matches a student's results of an exercise when, among T's tests, the
student failed exactly the tests the mistake fails, each in the same way, and also failed so each
test of other tasks the mistake fails (a mistake's cost beyond its task, catalogued with its
reason). So a student with a mistake in each of two tasks is diagnosed with both. Never guessed:
  - mistakes with the same signature cannot be told apart: a match names them all, as ambiguous;
  - a mistake that fails every test of its task looks like any wholly wrong answer: ambiguous too;
  - a task whose failures another matched mistake's cost beyond its own task explains is not
    diagnosed (it may be that cost alone), though it counts as explained;
  - a task whose every failure stopped at the stub's NotImplementedError is not diagnosed: an
    unfinished task is not a mistake; nor one with a test that timed out, ran out of memory,
    crashed or met a grader error (NO_RESULT): no result came back to compare.
"""

import functools
import json
from dataclasses import dataclass

from coursekit import paths
from coursekit.batch.status import NOT_GRADED, failure_reason

SIGNATURES_FILE = paths.AUTOGRADER / "mistake_signatures.json"
GENERATED_BY = ("python tests/mistake_signatures.py (make mistake-signatures): each mistake of "
                "tests/mutants/<id>.yml graded by autograder/test_<id>.py; the tests it loses points "
                "on, each with its status")
# statuses that are not a result of the student's code to compare: a task with one is not diagnosed
# ("forbidden API" is one to compare: catalogued mistakes call what the exercise forbids)
NO_RESULT = ("timed out", "out of memory", "crashed", "grader error")


@dataclass(frozen=True)
class Mistake:
    exercise: str
    id: str
    task: str
    description: str
    signature: frozenset   # of (grader test name, status): each test it fails, and how

    @functools.cached_property
    def fails(self):
        """The grader test names (a node id's part after "::") it fails."""
        return frozenset(name for name, _ in self.signature)


@dataclass(frozen=True)
class Match:
    """The catalogued mistakes that one task's results match."""

    task: str
    mistakes: tuple        # of Mistakes, in catalogue order
    whole_task: bool       # every test of the task failed, as with any wholly wrong answer

    @property
    def ambiguous(self):
        """Whether the results cannot name one mistake: several fail the same tests, or the
        mistake fails every test of its task and so looks like any other wholly wrong answer."""
        return len(self.mistakes) > 1 or self.whole_task


@dataclass(frozen=True)
class Diagnosis:
    """What one student's results of one exercise match: a Match per task diagnosed."""

    exercise: str
    matches: tuple
    explained: frozenset = frozenset()     # tasks whose failures a match accounts for

    @property
    def single(self):
        """The mistakes each named alone by their task's results (the ones feedback may name)."""
        return [match.mistakes[0] for match in self.matches if not match.ambiguous]

    @property
    def ambiguous(self):
        return [match for match in self.matches if match.ambiguous]


def signature_document(graded):
    """The JSON document of signatures, from (catalogue entry, {failed test name: status}) pairs."""
    exercises = {}
    for entry, failed in graded:
        exercises.setdefault(entry.exercise, []).append(
            {"id": entry.id, "task": entry.task, "mistake": entry.mistake, "fails": dict(sorted(failed.items()))})
    return {"generated_by": GENERATED_BY, "exercises": exercises}


def load_mistakes(path=SIGNATURES_FILE):
    """{exercise id: [Mistake, ...]} in catalogue order; {} when the file is absent."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {exercise_id: [Mistake(exercise_id, entry["id"], entry["task"], entry["mistake"],
                                  frozenset(entry["fails"].items())) for entry in entries]
            for exercise_id, entries in document["exercises"].items()}


def grader_test_name(test):
    """A results.json test's grader test name: its node id's part after "::"."""
    return test["extra_data"]["test"].rpartition("::")[2]


def task_of_test(test):
    """The course.yml task a results.json test counts towards ("" for an exercise's one outcome)."""
    return test["tags"][-1].partition(".")[2]


def status_of_test(test):
    return test.get("extra_data", {}).get("status", test.get("status", ""))


def lost_points(test):
    return test["score"] < test["max_score"]


def _not_diagnosable(tests):
    """Whether a task's `tests` are not to be diagnosed: each failure stopped at the stub's
    NotImplementedError (an unfinished task), or one came back with no result (NO_RESULT)."""
    failed = [test for test in tests if lost_points(test)]
    unfinished = bool(failed) and all("NotImplementedError" in failure_reason(test) for test in failed)
    return unfinished or any(status_of_test(test) in NO_RESULT for test in failed)


def diagnose(results, exercise_id, mistakes):
    """The Diagnosis of one exercise of a results.json document (None: the exercise was not graded)."""
    tests = [test for test in results.get("tests", []) if test["tags"][0] == exercise_id]
    if not tests or any(status_of_test(test) == NOT_GRADED for test in tests):
        return None
    task_of = {grader_test_name(test): task_of_test(test) for test in tests}
    failed = frozenset((grader_test_name(test), status_of_test(test)) for test in tests if lost_points(test))
    of_task = {}
    for test in tests:
        of_task.setdefault(task_of_test(test), []).append(test)
    names = {task: {grader_test_name(test) for test in own} for task, own in of_task.items()}
    diagnosable = {task for task, own in of_task.items() if not _not_diagnosable(own)}
    by_task = {}
    for mistake in mistakes:
        if mistake.task not in diagnosable or not mistake.fails <= set(task_of):
            continue
        own = {pair for pair in mistake.signature if task_of[pair[0]] == mistake.task}
        mine = {pair for pair in failed if task_of[pair[0]] == mistake.task}
        if own == mine and mistake.signature - own <= failed:
            by_task.setdefault(mistake.task, []).append(mistake)
    spilled = {pair for group in by_task.values() for mistake in group for pair in mistake.signature
               if task_of[pair[0]] != mistake.task}
    failures_of = {task: {pair for pair in failed if task_of[pair[0]] == task} for task in of_task}
    covered = {task for task, own in failures_of.items() if own and own <= spilled}
    matches = tuple(Match(task, tuple(group), {name for name, _ in failed} >= names[task])
                    for task, group in by_task.items() if task not in covered)
    return Diagnosis(exercise_id, matches, frozenset({match.task for match in matches} | covered))
