"""What a student reads on Gradescope, in Markdown: a failed test's feedback, and the run's summary.

results.py puts both in results.json with output_format "md". Text written elsewhere is shown
literally (markdown_text.py): a failure's reason, which may quote the student's own exception
message, tensor shapes or a SyntaxError's caret, as a code block, which keeps its lines and
alignment and leaves the reason's characters as they are in the JSON too; a grader's hint as
escaped prose, which wraps.
"""

from collections import defaultdict

from coursekit.grading.markdown_text import CODE_INDENT, code_block, code_span, escaped, unescaped

HINT_SEPARATOR = "\nHint: "     # between a failure's reason and its hint in its feedback (failures.py)
HINT_HEADING = "**Hint:**"      # before the hint in the Markdown feedback

WHEN_SHOWN = {"after_due_date": "shown after the due date", "after_published": "shown when grades are published",
              "hidden": "not shown to students"}       # Gradescope's visibilities other than "visible"


def split_feedback(feedback):
    """(reason, hint) of a failed test's feedback (GradingFailure.feedback(): a reason, then maybe
    HINT_SEPARATOR and a hint); the hint is "" when there is none."""
    reason, separator, hint = feedback.rpartition(HINT_SEPARATOR)
    return (reason, hint.strip()) if separator else (feedback, "")


def feedback_markdown(feedback):
    """A failed test's feedback as Markdown: its reason as a code block, then its hint as prose."""
    reason, hint = split_feedback(feedback)
    parts = [code_block(reason), f"{HINT_HEADING} {escaped(hint)}" if hint.strip() else ""]
    return "\n\n".join(part for part in parts if part)


def feedback_reason(markdown):
    """A failed test's reason as written: feedback_markdown's code block read back, without the hint."""
    block = markdown.split(f"\n\n{HINT_HEADING}")[0]
    return "\n".join(line.removeprefix(CODE_INDENT) for line in block.splitlines()).strip()


def feedback_hint(markdown):
    """A failed test's hint as written, read back from feedback_markdown's output ("" when none)."""
    _, separator, hint = markdown.partition(f"\n\n{HINT_HEADING} ")
    return unescaped(hint) if separator else ""


def _tests(count):
    return f"{count} test" if count == 1 else f"{count} tests"


def _points_lost(tests):
    """A line "- `where`: lost L of M points (F of N tests failed)" per task (or set-aside exercise) losing any."""
    by_where = defaultdict(list)
    for test in tests:
        by_where[test["tags"][-1]].append(test)     # tags: [exercise id] or [exercise id, "exercise.task"]
    lines = []
    for where, own in by_where.items():
        lost = sum(test["max_score"] - test["score"] for test in own)
        if lost <= 0:
            continue
        maximum = sum(test["max_score"] for test in own)
        failed = sum(test["status"] == "failed" for test in own)
        why = "not graded" if len(own[0]["tags"]) == 1 else f"{failed} of {_tests(len(own))} failed"
        lines.append(f"- {code_span(where)}: lost {lost:g} of {maximum:g} points ({why})")
    return lines


def summary_markdown(exercises, tests):
    """The run's summary: each exercise's score and tests passed, then every task that lost points.

    `exercises`: {exercise id: {"score", "max_score", "passed", "tests"}} in course order, as in
    results.json's extra_data.exercises; `tests`: results.json's tests (tags, score, max_score,
    status, visibility). An exercise whose tests are not "visible" is only named, with when its
    results are shown: the summary reveals nothing before Gradescope shows the tests themselves.
    """
    visibility = {test["tags"][0]: test["visibility"] for test in tests}
    shown = [exercise_id for exercise_id in exercises if visibility.get(exercise_id, "visible") == "visible"]
    later = [exercise_id for exercise_id in exercises if exercise_id not in shown]
    blocks = []
    if shown:
        scores = [f"- {code_span(exercise_id)}: {entry['score']:g} / {entry['max_score']:g} points, "
                  f"{entry['passed']} of {_tests(entry['tests'])} passed"
                  for exercise_id, entry in exercises.items() if exercise_id in shown]
        lost = _points_lost([test for test in tests if test["tags"][0] in shown])
        blocks += ["**Score by exercise**\n\n" + "\n".join(scores),
                   "**Points lost**\n\n" + "\n".join(lost) if lost
                   else "No points lost" + (" in these exercises." if later else ".")]
    if later:
        blocks.append("**Not shown here**\n\n" + "\n".join(
            f"- {code_span(exercise_id)}: {WHEN_SHOWN[visibility[exercise_id]]}" for exercise_id in later))
    return "\n\n".join(blocks)
