"""results.json from hand-made outcomes (no grading): Gradescope's schema, test numbers, visibility,
Markdown that shows feedback exactly as written, the summary, merged runs, and finish.py's notes.

Markdown is checked by rendering it with mistune (nbconvert's renderer, with tables and
strikethrough) and comparing the text a reader sees with the text that was meant.
"""

import dataclasses
import html
import json
import re

import mistune
import pytest

from coursekit import paths
from coursekit.config import load_course
from coursekit.gradescope.finish import finish
from coursekit.grading.gradescope_output import HINT_SEPARATOR
from coursekit.grading.markdown_text import code_block, code_span, escaped
from coursekit.grading.results import TestOutcome as Outcome
from coursekit.grading.results import gradescope_numbers, gradescope_results, merge_results

from gradescope_schema import schema_violations

COURSE = load_course(paths.COURSE_FILE)
PLAIN = dict(execution_time=1.5, submission="sub", sandbox={"isolation": "none"})

TRICKY = [
    "use `fill` (not 0): out[..., y0:y1, x0:x1] = fill, x * y * z",
    "__init__ and running_var, *args and **kwargs, a_b_c",
    "<b>bold</b> <script>x</script> &lt; & co",
    "1. not a list", "12) nor this", "# not a heading", "- not a list", "+ nor this", "> not a quote",
    "===", "---", "***", "a | b\n--- | ---", "~~not struck~~", "[link](http://example.com) ![image](x.png)",
    "back\\slash \\* star", "``two`` ```three```",
]


def outcome(exercise, task, number=1, *, feedback="", points=2.0, status=None):
    return Outcome(nodeid=f"autograder/test_{exercise}.py::test_{task}_{number}", name=f"{task} check {number}",
                       exercise=exercise, task=task, max_score=points, score=0.0 if feedback else points,
                       status=status or ("failed" if feedback else "passed"), feedback=feedback)


def not_graded(exercise, points, tests):
    """As selection.unavailable_outcome reports an exercise whose file cannot be graded."""
    return Outcome(nodeid=f"autograder/test_{exercise}.py", name="all tests", exercise=exercise, task="",
                       max_score=points, score=0.0, status="not graded",
                       feedback=f"{exercise}.py was not found in the submission", tests=tests)


def results(outcomes, course=COURSE):
    ids = [exercise_id for exercise_id in course.ids if any(o.exercise == exercise_id for o in outcomes)]
    return gradescope_results(outcomes, ids, course=course, **PLAIN)


def with_visibility(**visibility):
    exercises = tuple(dataclasses.replace(exercise, visibility=visibility.get(exercise.id, "visible"))
                      for exercise in COURSE.exercises)
    return dataclasses.replace(COURSE, exercises=exercises)


def rendered_text(markdown):
    """What a reader sees of `markdown`: mistune's HTML without its tags, line breaks kept."""
    shown = re.sub(r"<br\s*/?>\n?", "\n", mistune.html(markdown))
    return html.unescape(re.sub(r"<[^>]+>", "", shown)).strip()


@pytest.mark.parametrize("text", TRICKY)
def test_escaped_prose_shows_exactly_its_characters(text):
    assert rendered_text(escaped(text)) == text
    assert rendered_text(f"**Hint:** {escaped(text)}") == f"Hint: {text}"


@pytest.mark.parametrize("text", [line for line in TRICKY if "\n" not in line])
def test_a_code_span_shows_exactly_its_characters(text):
    assert re.fullmatch(r"<p><code>(.*)</code></p>\s*", mistune.html(code_span(text)), re.S)
    assert rendered_text(code_span(text)) == text


def test_a_code_block_keeps_every_line_and_its_alignment():
    text = "\n".join(TRICKY) + '\n  File "batchnorm.py", line 3\n    def batch_norm(x:\n                  ^'
    rendered = mistune.html("Before.\n\n" + code_block(text) + "\n\nAfter.")
    [code] = re.findall(r"<pre><code>(.*?)</code></pre>", rendered, re.S)
    assert html.unescape(code).rstrip("\n") == text


def test_a_failed_tests_output_is_its_reason_verbatim_then_its_hint_as_prose():
    reason = "your code raised ValueError: shape `(2, *)` <wrong> for running_var\n   ^ here"
    hint = TRICKY[0] + " " + TRICKY[1]
    document = results([outcome("batchnorm", "batch_norm", feedback=reason + HINT_SEPARATOR + hint),
                        outcome("batchnorm", "batch_norm", 2)])
    failed, passed = document["tests"]
    assert failed["output_format"] == "md" and passed["output"] == ""
    rendered = mistune.html(failed["output"])
    [code] = re.findall(r"<pre><code>(.*?)</code></pre>", rendered, re.S)
    assert html.unescape(code).rstrip("\n") == reason
    assert rendered_text(failed["output"]).endswith(f"Hint: {hint}")


def test_feedback_without_a_hint_is_a_code_block_alone():
    document = results([not_graded("dropout", 77.0, 20)])
    assert document["tests"][0]["output"] == "    dropout.py was not found in the submission"


def test_numbers_follow_the_course_and_sort_alike_as_text_as_numbers_and_as_versions():
    outcomes = ([outcome("batchnorm", "batch_norm", n) for n in range(1, 13)]
                + [outcome("weight_decay", "l2_penalty", n) for n in range(1, 4)])
    numbers = [test["number"] for test in results(outcomes)["tests"]]
    assert numbers[:3] == ["1.01", "1.02", "1.03"] and numbers[11] == "1.12"
    assert numbers[12:] == ["3.1", "3.2", "3.3"]                     # weight_decay is course.yml's third
    assert sorted(numbers) == sorted(numbers, key=float) == numbers
    assert sorted(numbers, key=lambda number: [int(part) for part in number.split(".")]) == numbers
    assert gradescope_numbers(outcomes[12:], COURSE.ids) == numbers[12:]   # whichever exercises the run graded


def test_each_test_takes_its_exercises_visibility_and_the_summary_names_a_hidden_exercise_only():
    course = with_visibility(dropout="after_due_date", augmentation="hidden")
    outcomes = [outcome("batchnorm", "batch_norm"), outcome("dropout", "dropout", feedback="wrong mask"),
                outcome("augmentation", "mixup", feedback="wrong lam")]
    document = results(outcomes, course)
    assert [test["visibility"] for test in document["tests"]] == ["visible", "after_due_date", "hidden"]
    assert document["output"] == ("**Score by exercise**\n\n- `batchnorm`: 2 / 2 points, 1 of 1 test passed\n\n"
                                  "No points lost in these exercises.\n\n"
                                  "**Not shown here**\n\n- `dropout`: shown after the due date\n"
                                  "- `augmentation`: not shown to students")
    assert schema_violations(document) == []


def test_the_summary_gives_each_exercises_score_and_each_task_that_lost_points():
    outcomes = [outcome("batchnorm", "batch_norm", 1), outcome("batchnorm", "batch_norm", 2, feedback="off by eps"),
                outcome("batchnorm", "batch_norm", 3, points=1.5, feedback="NaN"),
                outcome("batchnorm", "BatchNorm", 1, points=4.0), not_graded("dropout", 77.0, 20)]
    document = results(outcomes)
    assert document["output"] == (
        "**Score by exercise**\n\n"
        "- `batchnorm`: 6 / 9.5 points, 2 of 4 tests passed\n"
        "- `dropout`: 0 / 77 points, 0 of 20 tests passed\n\n"
        "**Points lost**\n\n"
        "- `batchnorm.batch_norm`: lost 3.5 of 5.5 points (2 of 3 tests failed)\n"
        "- `dropout`: lost 77 of 77 points (not graded)")
    assert rendered_text(document["output"]).splitlines()[2] == "batchnorm: 6 / 9.5 points, 2 of 4 tests passed"
    assert document["output_format"] == "md" and document["stdout_visibility"] == "hidden"
    assert document["extra_data"]["exercises"]["dropout"] == {"score": 0.0, "max_score": 77.0, "passed": 0,
                                                              "tests": 20}


def test_every_document_satisfies_gradescopes_schema():
    outcomes = [outcome("batchnorm", "batch_norm", feedback=TRICKY[2] + HINT_SEPARATOR + TRICKY[0]),
                outcome("batchnorm", "BatchNorm"), not_graded("dropout", 77.0, 20),
                outcome("weight_decay", "sgd_step", status="grader error", feedback="the grader itself failed")]
    assert schema_violations(results(outcomes)) == []
    assert schema_violations(results([])) == []


@pytest.mark.parametrize("change, violation", [
    (lambda d: d["tests"][0].update(status="skipped"), "tests.0.status: 'skipped' is not one of"),
    (lambda d: d.update(output_format="markdown"), "output_format: 'markdown' is not one of"),
    (lambda d: d["tests"][0].update(visiblity="visible"), "tests.0: Additional properties are not allowed"),
    (lambda d: d["tests"][0].update(number=1.1), "tests.0.number: 1.1 is not of type 'string'"),
    (lambda d: d.update(leaderboard=[]), ": Additional properties are not allowed ('leaderboard'"),
    (lambda d: d.pop("score") and d["tests"][0].pop("score"), "tests.0: 'score' is a required property"),
])
def test_the_schema_refuses_what_gradescope_does_not_document(change, violation):
    document = results([outcome("batchnorm", "batch_norm")])
    change(document)
    assert any(line.startswith(violation) for line in schema_violations(document)), schema_violations(document)


def test_merged_runs_equal_one_run_over_them_all():
    batchnorm = [outcome("batchnorm", "batch_norm", n, feedback="wrong" if n == 2 else "") for n in range(1, 11)]
    dropout = [outcome("dropout", "dropout", n) for n in range(1, 4)]
    one_run = results(batchnorm + dropout)
    merged = merge_results([results(batchnorm), results(dropout)], ["batchnorm", "dropout"])
    assert merged["execution_time"] == 2 * one_run["execution_time"]
    assert {**merged, "execution_time": None} == {**one_run, "execution_time": None}


def test_finish_adds_the_notes_in_markdown_after_the_summary(tmp_path):
    path = tmp_path / "results.json"
    document = results([outcome("batchnorm", "batch_norm")])
    path.write_text(json.dumps(document))
    notes = ["'<b>batch_norm</b>.py' skipped", "1. my_file.py was not graded"]
    finished = finish(path, notes)
    summary, about = finished["output"].split("\n\n**About your submission**\n\n")
    assert summary == document["output"]
    assert rendered_text(about).splitlines() == notes
    assert schema_violations(json.loads(path.read_text())) == []


def test_finish_without_results_writes_plain_text(tmp_path):
    finished = finish(tmp_path / "results.json", ["batchnorm.py was not found"])
    assert finished["output"].endswith("About your submission:\n- batchnorm.py was not found")
    assert schema_violations(finished) == []
