"""What a grader module imports: markers, checks, failures and seeded inputs."""

from coursekit.grading.checks import (
    TOLERANCES,
    Tolerance,
    expect,
    expect_close,
    expect_equal,
    expect_number,
    expect_raised,
    expect_tensor,
    is_number,
    shape_text,
)
from coursekit.grading.failures import GradingFailure, Mismatch
from coursekit.grading.inputs import per_channel_data, seeded_randn
from coursekit.grading.plugin import exercise, points
from coursekit.grading.threads import one_thread

__all__ = ["TOLERANCES", "Tolerance", "GradingFailure", "Mismatch", "exercise", "expect", "expect_close",
           "expect_equal", "expect_number", "expect_raised", "expect_tensor", "is_number", "one_thread",
           "per_channel_data", "points", "seeded_randn", "shape_text"]
