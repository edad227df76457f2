"""Comparisons a grader makes in the trusted process, each failing with a student-facing reason.

Reasons describe the property and the size of the error ("max abs error 0.18 on a (16, 8, 5, 7)
input"), never the hidden input's values.
"""

from dataclasses import dataclass

import torch

from coursekit.grading.failures import Mismatch
from coursekit.grading.record import type_name


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float


# Stated once, by dtype. A correct float32 implementation that reduces in a different order than
# PyTorch differs by a few ulps of the largest intermediate (~1e-7 relative) per operation; 1e-5
# absolute on unit-scale outputs leaves two orders of margin yet catches every real mistake we
# know of (eps outside the sqrt with eps=1e-5 moves outputs by ~1e-3; n vs n-1 on n=32 by 1.6%).
# float64 has 2**-52 ~ 2e-16 unit roundoff, so 1e-10 is still generous.
TOLERANCES = {
    torch.float32: Tolerance(atol=1e-5, rtol=1e-4),
    torch.float64: Tolerance(atol=1e-10, rtol=1e-8),
}


def tolerance_for(dtype):
    return TOLERANCES[dtype]


def shape_text(shape):
    return "(" + ", ".join(str(size) for size in shape) + ")"


def expect_tensor(value, what, *, shape=None, dtype=None, hint=None):
    """value is a Tensor (of the given shape and dtype when those are given)."""
    if not isinstance(value, torch.Tensor):
        raise Mismatch(f"{what}: expected a Tensor, got {type_name(value)}", hint)
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise Mismatch(f"{what}: expected shape {shape_text(shape)}, got {shape_text(value.shape)}", hint)
    if dtype is not None and value.dtype != dtype:
        raise Mismatch(f"{what}: expected dtype {dtype}, got {value.dtype}", hint)
    return value


def expect_close(got, want, what, *, hint=None, on=None, tolerance=None):
    """got matches want elementwise within the dtype's tolerance.

    `on` describes the input in the reason, e.g. "a (16, 8, 5, 7) input".
    """
    expect_tensor(got, what, shape=want.shape, dtype=want.dtype, hint=hint)
    tolerance = tolerance or tolerance_for(want.dtype)
    context = f" on {on}" if on else ""
    got_nan, want_nan = torch.isnan(got), torch.isnan(want)
    if not torch.equal(got_nan, want_nan):
        raise Mismatch(f"{what}: NaN where there should be a number (or the reverse){context}", hint)
    if torch.allclose(got, want, atol=tolerance.atol, rtol=tolerance.rtol, equal_nan=True):
        return
    error = (got - want).abs().nan_to_num(nan=0.0).max().item()
    raise Mismatch(f"{what}: max abs error {error:.3g}{context}", hint)


def expect_equal(got, want, what, *, hint=None):
    """got == want for plain values (numbers, strings, lists, dicts), or bitwise for tensors."""
    if isinstance(want, torch.Tensor):
        expect_tensor(got, what, shape=want.shape, dtype=want.dtype, hint=hint)
        if not torch.equal(got, want):
            raise Mismatch(f"{what}: differs from the expected values", hint)
        return
    if got != want:
        raise Mismatch(f"{what}: expected {want!r}, got {got!r}", hint)


def expect(condition, reason, *, hint=None):
    """A property that a single boolean decides."""
    if not condition:
        raise Mismatch(reason, hint)


def is_number(value):
    """A plain int or float (a bool is not a number here, and neither is a tensor)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def expect_number(value, what, *, hint="turn 0-dim tensors into floats with .item()"):
    """value is a plain number, as results that hold losses and accuracies must be."""
    expect(is_number(value), f"{what} should be a float, not {type_name(value)}", hint=hint)
    return value


def expect_raised(error, exception_type, what, *, hint=None):
    """error (from student.raises) is exception_type or a subclass of it."""
    if exception_type.__name__ not in error.mro:
        raise Mismatch(f"{what}: expected {exception_type.__name__}, got {error.type}: {error.message}", hint)
