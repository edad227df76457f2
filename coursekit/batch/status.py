"""The class CSV's status column: was the student graded, and what of it scored 0 without being tried.

    graded                                         every exercise's graders ran on the student's code
    graded; dropout: SyntaxError line 145; weight_decay: missing; dropout/dropout.ipynb: not valid JSON (line 3)
    grader failed: <why>                           no results (records.py); a rerun grades the student

After "graded", each exercise that was not graded (results.json's tests with extra_data.status "not
graded", coursekit/grading/selection.py) is named with a short reason, in course order, then each
notebook that cannot be read (notebooks.py). An exercise whose file was set aside is one outcome
tagged with the exercise id alone; one whose module does not import fails each test with the same
message (coursekit/grading/submitted_exercise.py). The reasons are read back from those messages,
kept as written in each failed test's extra_data (coursekit/grading/results.py).
"""

import re

from coursekit.grading.gradescope_output import feedback_reason

GRADED, GRADER_FAILED = "graded", "grader failed"
NOT_GRADED = "not graded"           # coursekit/grading/failures.py: SubmissionUnavailable.status
_LONGEST_REASON = 80

# A set-aside file's message (coursekit/grading/submission.py) -> its short name
_SET_ASIDE = (("was not found in the submission", "missing"), ("the submission has both", "two copies"),
              ("is not valid UTF-8 text", "not UTF-8"), ("is larger than", "too large"))
# "importing dropout.py raised SyntaxError: invalid syntax (dropout.py, line 3) (at dropout.py, line 3)"
_IMPORT_RAISED = re.compile(r"^importing \S+ raised (?P<type>[\w.]+): .*?(?:\(at [^()]*, line (?P<line>\d+)"
                            r"(?:, in [^()]*)?\))?$", re.DOTALL)
# "dropout.py could not be loaded: your code exited with code 0 while being imported"
_NOT_LOADED = re.compile(r"^\S+ could not be loaded: (?:your code )?(?P<why>.*)$", re.DOTALL)


def _shortened(text):
    text = " ".join(text.split())
    return text if len(text) <= _LONGEST_REASON else text[:_LONGEST_REASON - 3] + "..."


def not_graded_reason(feedback, set_aside):
    """A few words for why an exercise was not graded, from its feedback: "missing", "SyntaxError line 145"...

    `set_aside`: the feedback is a set-aside file's (one outcome for the exercise), not an import's.
    """
    for phrase, name in _SET_ASIDE if set_aside else ():
        if phrase in feedback:
            return name
    raised = _IMPORT_RAISED.match(feedback)
    if raised:
        return raised["type"] + (f" line {raised['line']}" if raised["line"] else "")
    not_loaded = _NOT_LOADED.match(feedback)
    if not_loaded:
        return _shortened(f"not loaded: {not_loaded['why']}")
    return _shortened(feedback.splitlines()[0] if feedback else NOT_GRADED)


def failure_reason(test):
    """A failed results.json test's reason as written: extra_data's `reason`, or, in results written
    before it was kept there, read back from the Markdown `output`."""
    reason = test.get("extra_data", {}).get("reason")
    return reason if reason is not None else feedback_reason(test.get("output", ""))


def not_graded_exercises(results):
    """{exercise id: reason} for each exercise of a results.json document whose graders did not run
    on the student's code, in the document's order (course order)."""
    reasons = {}
    for test in results.get("tests", []):
        exercise_id = test["tags"][0]
        if test.get("extra_data", {}).get("status") == NOT_GRADED and exercise_id not in reasons:
            reasons[exercise_id] = not_graded_reason(failure_reason(test), len(test["tags"]) == 1)
    return reasons


def student_status(results, problem="", notebooks=()):
    """The status column for one student: `results` (results.json, or None when the grader failed,
    for `problem`), `notebooks` the notebooks that cannot be read ("dropout.ipynb: not valid JSON")."""
    if results is None:
        parts = [f"{GRADER_FAILED}: {problem}"]
    else:
        parts = [GRADED, *(f"{exercise_id}: {reason}" for exercise_id, reason in not_graded_exercises(results).items())]
    return "; ".join([*parts, *notebooks])


def needs_a_look(status):
    """Whether a status says more than plain "graded"."""
    return status != GRADED
