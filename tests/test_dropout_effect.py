"""The reference shows dropout's effect on the seed the grader uses, and on almost every other.

The grader (autograder/test_dropout.py) demands that p = 0.5 lower the final validation
cross-entropy on noisy digits by more than a margin, in one run of its effect set-up. A correct
submission can only be trusted to pass if the reference passes with room to spare: here on the
grader's seed, and on at least 39 of 40 seeds the grader does not use (a correct submission that
draws its masks differently is, in effect, another seed).
"""

import pytest

from references import load_grader, load_reference

pytestmark = pytest.mark.usefixtures("one_thread")     # train as the grader's worker does

GRADER = load_grader("dropout")
REFERENCE = load_reference("dropout")
OTHER_SEEDS = range(100, 140)


def gap(seed):
    """Validation loss without dropout minus validation loss with p = 0.5, as the grader runs it."""
    train, val = GRADER.effect_data(seed)
    results = REFERENCE.compare_dropout(train, val, ps=(0.0, 0.5), seed=seed, **GRADER.EFFECT_SETUP)
    return results[0.0]["val_loss"] - results[0.5]["val_loss"]


def test_effect_on_the_grader_seed_with_room_to_spare():
    assert gap(GRADER.EFFECT_SEED) > 2 * GRADER.EFFECT_MARGIN


def test_effect_on_at_least_39_of_40_other_seeds():
    gaps = {seed: gap(seed) for seed in OTHER_SEEDS}
    assert sum(value > GRADER.EFFECT_MARGIN for value in gaps.values()) >= 39, gaps
