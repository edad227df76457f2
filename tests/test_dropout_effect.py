"""The reference shows dropout's effect on every seed the grader uses, and on almost every other.

The grader (autograder/test_dropout.py) demands that p = 0.5 lower the final validation
cross-entropy on noisy digits by more than a margin, for each of its seeds. A correct
submission can only be trusted to pass if the reference passes with room to spare: here on the
grader's seeds, and on at least 19 of 20 seeds the grader does not use.
"""

import pytest

from coursekit.datasets import noisy_digits
from references import load_grader, load_reference

pytestmark = pytest.mark.usefixtures("one_thread")     # train as the grader's worker does

GRADER = load_grader("dropout")
REFERENCE = load_reference("dropout")
OTHER_SEEDS = range(100, 120)


def gap(seed):
    """Validation loss without dropout minus validation loss with p = 0.5, as the grader runs it."""
    train, val = noisy_digits(seed)
    results = REFERENCE.compare_dropout(train, val, ps=(0.0, 0.5), epochs=GRADER.EFFECT_EPOCHS, seed=seed)
    return results[0.0]["val_loss"] - results[0.5]["val_loss"]


def test_effect_on_every_grader_seed():
    gaps = {seed: gap(seed) for seed in GRADER.EFFECT_SEEDS}
    assert all(value > GRADER.EFFECT_MARGIN for value in gaps.values()), gaps


def test_effect_on_at_least_19_of_20_other_seeds():
    gaps = {seed: gap(seed) for seed in OTHER_SEEDS}
    assert sum(value > GRADER.EFFECT_MARGIN for value in gaps.values()) >= 19, gaps
