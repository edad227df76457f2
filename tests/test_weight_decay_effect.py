"""The reference shows weight decay's effects on the grader's seed, and on almost every other.

The grader (autograder/test_weight_decay.py) sweeps EFFECT_DECAYS on d2l's sparse regression for
its seed and demands: ||w|| never grows with the decay, the training loss never falls,
and decay 3 beats decay 0 on validation. A correct submission can only be trusted to pass if the
reference passes: here on the grader's seed, and on at least 19 of 20 seeds it does not use.
"""

import pytest

from coursekit.datasets import sparse_linear_regression
from references import load_grader, load_reference

pytestmark = pytest.mark.usefixtures("one_thread")     # train as the grader's worker does

GRADER = load_grader("weight_decay")
REFERENCE = load_reference("weight_decay")
OTHER_SEEDS = range(100, 120)


def effects(seed):
    """Which of the three effects the reference shows on this seed, as the grader judges them."""
    results = REFERENCE.sweep_weight_decay(*sparse_linear_regression(seed), GRADER.EFFECT_DECAYS, seed=seed,
                                          epochs=GRADER.EFFECT_EPOCHS)
    norms = [result["weight_norm"] for result in results]
    train = [result["train_loss"] for result in results]
    return {"norm shrinks": all(a >= b for a, b in zip(norms, norms[1:])),
            "train loss grows": all(a <= b for a, b in zip(train, train[1:])),
            "decay 3 beats 0": results[3]["val_loss"] < results[0]["val_loss"]}


def test_effects_on_the_grader_seed():
    for seed in GRADER.EFFECT_SEEDS:
        assert all(effects(seed).values()), (seed, effects(seed))


def test_effects_on_at_least_19_of_20_other_seeds():
    shown = [effects(seed) for seed in OTHER_SEEDS]
    for effect in shown[0]:
        assert sum(seed_effects[effect] for seed_effects in shown) >= 19, effect
