"""What a failed grader test tells the student: a status, what was checked, and a hint.

Graders raise these (directly, or through the checks in `checks.py`); the pytest plugin shows
`feedback()` instead of a traceback, so a student never sees the hidden test's source or inputs.
Any other exception in a grader is a bug in the grader, reported to staff as such.
"""

from coursekit.grading.gradescope_output import HINT_SEPARATOR

STATUSES = ("passed", "failed", "error in your code", "timed out", "out of memory", "crashed",
            "forbidden API", "not graded")


class GradingFailure(AssertionError):
    """A grader test failed for a reason the student should read. `status` is one of STATUSES."""

    status = "failed"

    def __init__(self, reason, hint=None, staff_note=""):
        super().__init__(reason)
        self.reason = reason
        self.hint = hint
        self.staff_note = staff_note   # shown in the instructor's terminal, never to the student

    def feedback(self):
        return self.reason + (f"{HINT_SEPARATOR}{self.hint}" if self.hint else "")


class Mismatch(GradingFailure):
    """The student's result differs from the oracle's."""


class StudentCodeRaised(GradingFailure):
    """Student code raised an exception the test did not expect."""

    status = "error in your code"


class TimedOut(GradingFailure):
    status = "timed out"


class OutOfMemory(GradingFailure):
    status = "out of memory"


class Crashed(GradingFailure):
    status = "crashed"


class ForbiddenApiUsed(GradingFailure):
    status = "forbidden API"


class SubmissionUnavailable(GradingFailure):
    """The exercise's file is missing or does not import: every test of it scores 0."""

    status = "not graded"
