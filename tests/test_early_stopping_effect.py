"""The reference shows, on the grader's seeds and on many others, what the fit graders rely on.

autograder/test_early_stopping.py runs `fit` twice per student, through the scenario module, on
noisy digits:
- "early stop" (patience 3, max_epochs 30, batches of 48, the last one of 8): the grader checks
  the stop against what the early stopping said on the student's own losses, so a correct
  submission that shuffles differently and stops later (or not at all) loses nothing. But a fit
  that ignores the stop is caught only if the run stops well before max_epochs, and a fit with
  another batch order should see what the reference sees: here the grader's seed, 30 other
  shuffling seeds with the grader's data and weights, and 10 other data seeds.
- "max epochs" (patience above max_epochs, dropout 0.1, 12 epochs, interrupted as epoch 11
  starts): on the grader's seed the lowest validation loss must come before the interruption,
  so that a resume that forgets the early stopping's best, or a run that forgets to put the
  best weights back, ends with other weights (tests/mutants/early_stopping.yml proves they do).
"""

import pytest

from references import load_grader, load_reference, load_scenarios

pytestmark = pytest.mark.usefixtures("one_thread")     # train as the grader's worker does

GRADER = load_grader("early_stopping")
REFERENCE = load_reference("early_stopping")


SCENARIOS = load_scenarios("early_stopping")


@pytest.fixture(autouse=True)
def in_scratch_folder(tmp_path, monkeypatch):
    """The scenarios write their checkpoint folders into the working directory, as in the worker."""
    monkeypatch.chdir(tmp_path)


def run(name, data_seed, shuffle_seed=None, **scenario_options):
    """The grader's run `name` on the reference; (what the scenario returned, the grader's validation losses)."""
    setup = GRADER.fit_setup(data_seed, GRADER.EARLY_STOP if name == "early stop" else GRADER.MAX_EPOCHS)
    if shuffle_seed is not None:
        setup["seed"] = shuffle_seed
    got = SCENARIOS.fit_run(REFERENCE, setup, **scenario_options)
    return got, [GRADER.validation_loss(state, setup["val"]) for state in got["snapshots"]]


def test_early_stop_on_the_grader_seed_comes_well_before_max_epochs():
    got, losses = run("early stop", GRADER.EARLY_STOP_SEED)
    result = got["result"]
    assert result["best_epoch"] in GRADER.lowest_epochs(losses)
    assert result["stopped_epoch"] == result["best_epoch"] + GRADER.EARLY_STOP["patience"]
    assert result["stopped_epoch"] <= GRADER.EARLY_STOP["max_epochs"] - 10, result


def test_early_stop_comes_before_max_epochs_on_every_other_batch_order():
    stops = {seed: run("early stop", GRADER.EARLY_STOP_SEED, shuffle_seed=seed)[0]["result"]["stopped_epoch"]
             for seed in range(100, 130)}
    assert max(stops.values()) <= GRADER.EARLY_STOP["max_epochs"] - 5, stops


def test_early_stop_comes_before_max_epochs_on_other_data():
    stops = {seed: run("early stop", seed)[0]["result"]["stopped_epoch"] for seed in range(200, 210)}
    assert max(stops.values()) <= GRADER.EARLY_STOP["max_epochs"] - 5, stops


def test_max_epochs_run_has_its_best_epoch_before_the_interruption():
    setup = GRADER.fit_setup(GRADER.MAX_EPOCHS_SEED, GRADER.MAX_EPOCHS)
    got, losses = run("max epochs", GRADER.MAX_EPOCHS_SEED,
                      interrupt_after=GRADER.INTERRUPT_AFTER_EPOCHS * GRADER.batches_per_epoch(setup),
                      resume_state=GRADER.probe_state(GRADER.MAX_EPOCHS_SEED + 100), resume_rng_seed=12345)
    assert got["result"]["stopped_epoch"] == GRADER.MAX_EPOCHS["max_epochs"]
    assert max(GRADER.lowest_epochs(losses)) <= GRADER.INTERRUPT_AFTER_EPOCHS - 1, losses
    assert min(losses) < losses[-1] - 0.02, "the last epoch must be clearly worse than the best"
    resumed = got["resumed"]
    assert resumed["error"] is None and resumed["epochs_before"] == GRADER.INTERRUPT_AFTER_EPOCHS
    assert resumed["result"] == got["result"]
