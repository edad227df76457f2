"""Diagnosis by known mistakes (coursekit/report/mistakes.py) on hand-made results.

An exercise "ex" with tasks A (tests a1, a2) and B (test b1), and catalogued mistakes:
    one_a      A, fails a1
    both_a     A, fails a1 and a2
    spills     A, fails a2, and b1 of task B (a cost beyond its task, catalogued with its reason)
    twin_1/2   B, both fail b1: the results cannot tell them apart
"""

import pytest

from coursekit.report.mistakes import Mistake, diagnose

TASK_OF = {"a1": "A", "a2": "A", "b1": "B"}


def mistake(id, task, *fails):
    """A mistake failing `fails` with a wrong result ("failed")."""
    return Mistake("ex", id, task, id.replace("_", " "), frozenset((name, "failed") for name in fails))


MISTAKES = [mistake("one_a", "A", "a1"), mistake("both_a", "A", "a1", "a2"), mistake("spills", "A", "a2", "b1"),
            mistake("twin_1", "B", "b1"), mistake("twin_2", "B", "b1")]
NOT_IMPLEMENTED = "    your code raised NotImplementedError: ex.task_a: implement it"


def results(failed=(), output="    expected 1.0, got 2.0", status="failed"):
    tests = [{"name": f"ex.{task}: checks {name}", "score": 0.0 if name in failed else 1.0, "max_score": 1.0,
              "status": "failed" if name in failed else "passed", "output": output if name in failed else "",
              "tags": ["ex", f"ex.{task}"],
              "extra_data": {"status": status if name in failed else "passed",
                             "test": f"autograder/test_ex.py::{name}"}}
             for name, task in TASK_OF.items()]
    return {"tests": tests}


def matched(document):
    diagnosis = diagnose(document, "ex", MISTAKES)
    return [[mistake.id for mistake in match.mistakes] for match in diagnosis.matches]


@pytest.mark.parametrize("failed, expected", [
    ({"a1"}, [["one_a"]]),
    ({"a1", "a2"}, [["both_a"]]),
    ({"a1", "b1"}, [["one_a"], ["twin_1", "twin_2"]]),     # a mistake in each task: both named
    ({"a2", "b1"}, [["spills"]]),   # b1 may be spills' cost alone: B is not diagnosed (twin is not guessed)
    ({"a2"}, []),               # spills also fails b1: a student who passed b1 did not make it
    (set(), []),
])
def test_a_mistake_matches_when_its_tasks_failures_are_exactly_the_students(failed, expected):
    assert matched(results(failed)) == expected


def test_a_shared_signature_is_ambiguous_and_never_a_single_diagnosis():
    diagnosis = diagnose(results({"b1"}), "ex", MISTAKES)
    assert [mistake.id for mistake in diagnosis.ambiguous[0].mistakes] == ["twin_1", "twin_2"]
    assert diagnosis.single == []


def test_a_mistake_failing_its_whole_task_is_ambiguous_as_any_wholly_wrong_answer_is():
    diagnosis = diagnose(results({"a1", "a2"}), "ex", MISTAKES)
    assert diagnosis.matches[0].whole_task and diagnosis.single == []
    assert [mistake.id for mistake in diagnose(results({"a1"}), "ex", MISTAKES).single] == ["one_a"]


def test_failing_the_same_tests_in_another_way_is_not_the_mistake():
    """one_a fails a1 with a wrong result: code that raises on a1 did something else."""
    assert matched(results({"a1"}, status="error in your code")) == []
    assert matched(results({"a1"}, status="failed")) == [["one_a"]]


def test_a_task_explained_by_another_mistakes_cost_counts_as_explained():
    diagnosis = diagnose(results({"a2", "b1"}), "ex", MISTAKES)
    assert diagnosis.explained == {"A", "B"}
    assert diagnose(results({"a1", "a2"}, output=NOT_IMPLEMENTED, status="error in your code"), "ex",
                    MISTAKES).explained == set()


def test_an_unfinished_task_is_not_diagnosed_as_a_mistake():
    assert matched(results({"a1", "a2"}, output=NOT_IMPLEMENTED, status="error in your code")) == []


@pytest.mark.parametrize("status", ["timed out", "out of memory", "crashed", "grader error"])
def test_a_task_whose_test_came_back_with_no_result_is_not_diagnosed(status):
    assert matched(results({"a1"}, status=status)) == []


def test_an_exercise_that_was_not_graded_has_no_diagnosis():
    assert diagnose(results({"a1", "a2", "b1"}, status="not graded"), "ex", MISTAKES) is None
    assert diagnose(results(), "another exercise", MISTAKES) is None
