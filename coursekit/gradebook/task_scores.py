"""Each task's points and feedback, read from the kit's results.json for one exercise.

A test's tags are [exercise id, "exercise.task"]; an outcome tagged with the exercise alone stands
for all of its tests (its file was missing, or not readable: selection.py), and costs every task
its points with the same message. The feedback is Markdown, as results.json's: per failed test,
what was checked (its name) and the test's own output (the reason, then a hint).
"""

from dataclasses import dataclass

from coursekit.grading.markdown_text import escaped


@dataclass(frozen=True)
class TaskScore:
    points: float
    max_points: float
    summary: str        # one line, plain text
    markdown: str       # the summary, then every lost point with what was checked and the hint


def _task_score(task, tests, max_points):
    points = sum(test["score"] for test in tests)
    failed = [test for test in tests if test["status"] != "passed"]
    summary = (f"{points:g} of {max_points:g} points: {len(tests) - len(failed)} of {len(tests)} of the "
               f"hidden tests of `{task}` passed.")
    lost = [f"**{escaped(test['name'].split(': ', 1)[-1])}** ({test['max_score'] - test['score']:g} points)"
            f"\n\n{test['output']}" for test in failed]
    return TaskScore(points, max_points, summary, "\n\n".join([summary, *lost]))


def task_scores(results, exercise):
    """{task: TaskScore} for every task of `exercise` (course.yml's), from a results.json document."""
    tests = [test for test in results.get("tests", []) if test.get("tags", [None])[0] == exercise.id]
    whole = [test for test in tests if len(test["tags"]) == 1]
    scores = {}
    for task, task_points in exercise.tasks.items():
        if whole:
            why = "\n\n".join(test["output"] for test in whole)
            line = f"0 of {task_points:g} points: {exercise.module_file} could not be graded."
            scores[task] = TaskScore(0.0, float(task_points), line, f"{line}\n\n{why}")
            continue
        own = [test for test in tests if test["tags"][-1] == f"{exercise.id}.{task}"]
        scores[task] = _task_score(task, own, float(task_points))
    return scores
