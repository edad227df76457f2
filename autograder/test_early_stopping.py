"""Hidden graders for the early_stopping exercise.

EarlyStopping is graded on metric sequences worked out by hand (the lecture's table among them).
Checkpoints are graded by their laws: what is loaded continues exactly as what was saved, a
write that fails half way leaves the previous file whole, torch.load(weights_only=True) reads
every checkpoint. `fit` trains the grader's probe (autograder/scenarios/early_stopping.py), which
records its training batches and its weights at every validation: here, in the trusted process,
torch.optim.Adam replays those batches and PyTorch computes every epoch's validation loss, and the
best epoch, the stop and the final weights are checked against them. A resumed run is checked
bitwise against the uninterrupted one. tests/test_early_stopping_effect.py checks that the
reference shows what these tests need on the grader's seeds and on many others.
"""

import math
import weakref

import torch
import torch.nn.functional as F
from torch import nn

from coursekit.datasets import noisy_digits
from coursekit.grading.api import (GradingFailure, exercise, expect, expect_close, expect_equal, expect_number,
                                   is_number, one_thread, points)

pytestmark = exercise("early_stopping")


# --- EarlyStopping ------------------------------------------------------------------------------

LECTURE_LOSSES = [2.5, 2.0, 1.5, 1.2, 1.1, 1.15, 1.18, 1.20]     # the lecture's table, up to its stop


def stopper_calls(student, metrics, **options):
    """One new EarlyStopping(**options) fed `metrics`: what it returned and its attributes after each call."""
    got = student.run("stopper_run", list(metrics), options)
    expect(len(got.calls) == len(metrics), "the stopper was not called once per metric")
    for call in got.calls:
        expect(isinstance(call["returned"], bool), f"calling the stopper returned {call['returned']!r}, "
               "not True or False", hint="__call__ returns self.early_stop")
        expect(all(value != "missing" for value in call.values()),
               "the stopper has no attribute best, best_epoch, counter or early_stop",
               hint="set all four in __init__ and keep them up to date in __call__")
    return got.calls


def expect_stops_at(calls, epoch, what, hint):
    """The stopper returned False before `epoch` and True from it on (epoch None: never stopped)."""
    returned = [call["returned"] for call in calls]
    said = returned.index(True) + 1 if True in returned else None
    expect(said == epoch, f"{what}: the stopper said stop {f'at epoch {said}' if said else 'at no epoch'}, "
           f"{f'not at epoch {epoch}' if epoch else 'but it should not stop'}", hint=hint)
    expect(all(returned[epoch - 1:]) if epoch else True, f"{what}: after saying stop, the stopper returned False",
           hint="once it has said stop, every later call returns True")


def same_value(got, want):
    """Equal plain values; numbers within rounding; NaN equals NaN."""
    if is_number(got) and is_number(want):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(got) and math.isnan(want))
    return type(got) is type(want) and got == want


def expect_same_calls(got, want, what, hint=None):
    """Two stoppers' calls agree, attribute by attribute; the first difference is named, not the metrics."""
    expect(len(got) == len(want), f"{what}: {len(got)} calls recorded instead of {len(want)}", hint=hint)
    for number, (mine, theirs) in enumerate(zip(got, want), start=1):
        for key in ("returned", "early_stop", "counter", "best_epoch", "best"):
            shown = "differs" if key == "best" else f"is {mine[key]!r}, not {theirs[key]!r}"
            expect(same_value(mine[key], theirs[key]), f"{what}: on its call {number}, {key} {shown}", hint=hint)


def expect_same_history(got, want, what, hint=None):
    """Two lists of per-epoch values agree exactly; the first epoch that differs is named."""
    expect(isinstance(got, list), f"{what} is not a list", hint=hint)
    for epoch, (mine, theirs) in enumerate(zip(got, want), start=1):
        expect(mine == theirs, f"{what} first differs at epoch {epoch}", hint=hint)
    expect(len(got) == len(want), f"{what} has {len(got)} entries instead of {len(want)}", hint=hint)


def expect_attribute(calls, name, want, what, hint=None):
    """An attribute after each call equals `want` (a list, one value per call)."""
    for epoch, (call, value) in enumerate(zip(calls, want), start=1):
        expect(same_value(call[name], value), f"{what}: after epoch {epoch}, {name} is {call[name]!r}, expected "
               f"{value!r}", hint=hint)


@points(3, task="EarlyStopping")
def test_lectures_example_stops_at_epoch_8_with_the_best_at_epoch_5(student):
    """The lecture's losses with patience=3, min_delta=0.01 stop at epoch 8, with the best, 1.10, at epoch 5."""
    calls = stopper_calls(student, LECTURE_LOSSES, patience=3, min_delta=0.01)
    hint = ("an epoch improves when loss < best - min_delta; each other epoch adds 1 to the counter, and the "
            "stopper says stop when the counter reaches patience")
    expect_stops_at(calls, 8, "the lecture's example", hint)
    expect_attribute(calls, "counter", [0, 0, 0, 0, 0, 1, 2, 3], "the lecture's example", hint=hint)
    expect_attribute(calls, "best", [2.5, 2.0, 1.5, 1.2, 1.1, 1.1, 1.1, 1.1], "the lecture's example")
    expect_attribute(calls, "best_epoch", [1, 2, 3, 4, 5, 5, 5, 5], "the lecture's example",
                     hint="epochs count from 1: the first call is epoch 1")


@points(1, task="EarlyStopping")
def test_a_new_stopper_has_no_best_yet_and_waits_5_epochs_by_default(student):
    """A new stopper has best None, best_epoch None, counter 0, early_stop False; by default patience is 5."""
    got = student.run("stopper_run", [1.0, 2.0, 2.0, 2.0, 2.0, 2.0], {})
    expect_equal(dict(got.initial), {"best": None, "best_epoch": None, "counter": 0, "early_stop": False},
                 "a new stopper's attributes", hint="set them in __init__, before any call")
    expect_stops_at(got.calls, 6, "with the default settings", "the default patience is 5")


@points(2, task="EarlyStopping")
def test_a_tie_is_not_an_improvement(student):
    """A metric equal to the best is not an improvement, in mode "min" and in mode "max"."""
    hint = "equal is not better: use a strict comparison (< in mode 'min', > in mode 'max')"
    calls = stopper_calls(student, [3.0, 2.0, 2.0, 2.0, 2.0], patience=3)
    expect_stops_at(calls, 5, "a loss that stays at its best", hint)
    expect_attribute(calls, "best_epoch", [1, 2, 2, 2, 2], "a loss that stays at its best", hint=hint)
    calls = stopper_calls(student, [0.5, 0.7, 0.7, 0.7], patience=2, mode="max")
    expect_stops_at(calls, 4, "an accuracy that stays at its best", hint)


@points(2, task="EarlyStopping")
def test_min_delta_is_the_margin_to_beat(student):
    """Only a change by more than min_delta, in the right direction, counts as an improvement."""
    hint = ("mode 'min': an improvement is metric < best - min_delta (below the best by more than min_delta); "
            "mode 'max': metric > best + min_delta")
    calls = stopper_calls(student, [1.0, 0.95, 0.92, 0.85, 0.84], patience=3, min_delta=0.1)
    expect_attribute(calls, "best_epoch", [1, 1, 1, 4, 4], "a falling loss with min_delta", hint=hint)
    expect_attribute(calls, "counter", [0, 1, 2, 0, 1], "a falling loss with min_delta", hint=hint)
    expect_stops_at(calls, None, "a falling loss with min_delta", hint)
    calls = stopper_calls(student, [0.50, 0.52, 0.56, 0.57, 0.58], patience=2, min_delta=0.05, mode="max")
    expect_attribute(calls, "best_epoch", [1, 1, 3, 3, 3], "a rising accuracy with min_delta", hint=hint)
    expect_stops_at(calls, 5, "a rising accuracy with min_delta", hint)


@points(2, task="EarlyStopping")
def test_mode_max_watches_a_metric_that_should_rise(student):
    """In mode "max" higher is better: an accuracy that peaks stops patience epochs after its peak."""
    calls = stopper_calls(student, [0.60, 0.70, 0.75, 0.74, 0.76, 0.73, 0.72, 0.71], patience=3, mode="max")
    hint = "in mode 'max' an improvement is a metric above the best (by more than min_delta)"
    expect_stops_at(calls, 8, "an accuracy in mode 'max'", hint)
    expect_attribute(calls, "best", [0.60, 0.70, 0.75, 0.75, 0.76, 0.76, 0.76, 0.76], "an accuracy in mode 'max'",
                     hint=hint)
    expect_attribute(calls, "best_epoch", [1, 2, 3, 3, 5, 5, 5, 5], "an accuracy in mode 'max'")


@points(2, task="EarlyStopping")
def test_counter_resets_on_an_improvement(student):
    """The counter goes back to 0 at every improvement, so only epochs since the last improvement count."""
    calls = stopper_calls(student, [5, 6, 7, 4, 5, 6, 3, 4, 5, 6], patience=3)
    hint = "set the counter back to 0 when the metric improves"
    expect_attribute(calls, "counter", [0, 1, 2, 0, 1, 2, 0, 1, 2, 3], "a loss that improves twice", hint=hint)
    expect_stops_at(calls, 10, "a loss that improves twice", hint)
    expect_attribute(calls, "best_epoch", [1, 1, 1, 4, 4, 4, 7, 7, 7, 7], "a loss that improves twice")


@points(2, task="EarlyStopping")
def test_nan_is_never_an_improvement(student):
    """NaN never improves: not as the first metric, not after a best, and it never becomes the best."""
    nan = math.nan
    hint = ("every comparison with NaN is False, so check math.isnan(metric) first; a NaN epoch counts as an epoch "
            "without improvement")
    calls = stopper_calls(student, [nan, 2.0, 1.0, nan, nan, 0.5], patience=3)
    expect_attribute(calls, "best", [None, 2.0, 1.0, 1.0, 1.0, 0.5], "a run that starts with NaN", hint=hint)
    expect_attribute(calls, "best_epoch", [None, 2, 3, 3, 3, 6], "a run that starts with NaN", hint=hint)
    expect_attribute(calls, "counter", [1, 0, 0, 1, 2, 0], "a run that starts with NaN", hint=hint)
    expect_stops_at(calls, None, "a run that starts with NaN", hint)
    calls = stopper_calls(student, [1.0, nan, nan, nan], patience=3)
    expect_stops_at(calls, 4, "a loss that turns into NaN", hint)
    expect_attribute(calls, "best", [1.0, 1.0, 1.0, 1.0], "a loss that turns into NaN", hint=hint)


@points(2, task="EarlyStopping")
def test_the_stop_is_sticky(student):
    """Once the stopper has said stop, it keeps returning True, even if the metric improves later."""
    calls = stopper_calls(student, [1.0, 2.0, 3.0, 0.5, 0.4], patience=2)
    expect_stops_at(calls, 3, "a loss that improves after the stop",
                    "an improvement after the stop does not undo it: never set early_stop back to False")
    expect(all(call["early_stop"] for call in calls[2:]), "early_stop went back to False after the stop",
           hint="an improvement resets the counter, never early_stop")


@points(2, task="EarlyStopping")
def test_patience_0_and_1_stop_at_the_first_epoch_without_improvement(student):
    """With patience 0 or 1 the stop comes at the first epoch without improvement; an improving epoch never stops."""
    for patience in (0, 1):
        calls = stopper_calls(student, [3.0, 2.0, 1.0, 1.5, 0.5], patience=patience)
        expect_stops_at(calls, 4, f"with patience {patience}",
                        "decide to stop only in an epoch without improvement, when the counter has reached "
                        "patience (counter >= patience)")


@points(3, task="EarlyStopping")
def test_state_dict_round_trip_continues_exactly(student):
    """A new stopper that loads state_dict() continues exactly as the original, settings included."""
    metrics, options, split = [1.0, 0.8, 0.85, 0.9, 0.7, 0.75, 0.8, 0.82], {"patience": 3, "min_delta": 0.05}, 3
    got = student.run("stopper_state_round_trip", metrics, options, split)
    expect(got.weights_only_error is None,
           f"torch.load(weights_only=True) could not read state_dict()'s dict back: {describe(got.weights_only_error)}",
           hint="return plain values only (numbers, strings, None, bools), never an object")
    hint = ("state_dict returns a new dict with the settings (patience, min_delta, mode) and the progress "
            "(best, best_epoch, counter, early_stop, epoch); load_state_dict sets them all")
    expect_same_calls(got.saved, got.original, "a stopper built with the default settings and loaded with the "
                      "saved state_dict, against the original", hint=hint)
    expect_same_calls(got.loaded, got.original, "a stopper loaded with a state_dict taken before the original went "
                      "on, against the original", hint="state_dict must return a snapshot: a new dict, not the "
                      "object's own __dict__ (vars(self)), which changes with every later call")


# --- save_checkpoint and load_checkpoint --------------------------------------------------------

def describe(error):
    """An error from the worker as one line: type, message and where in the student's file."""
    if not error:
        return ""
    where = f" (at {error['where']})" if error.get("where") else ""
    return f"{error['type']}: {error['message']}{where}".lstrip(": ")


@points(3, task="load_checkpoint")
def test_checkpoint_round_trip_restores_model_optimizer_stopper_and_extras(student):
    """Loading into fresh objects restores the weights, Adam's state, the stopper, and returns the epoch and extras."""
    extras = {"history": [0.9, 0.7, 0.65], "note": "resume me",
              "generator_state": torch.Generator().manual_seed(5).get_state()}
    got = student.run("checkpoint_round_trip", extras)
    expect(isinstance(got.metadata, dict), "load_checkpoint should return a dict",
           hint='return {"epoch": epoch, **extra}')
    expect(set(got.metadata) == {"epoch", *extras},
           f"load_checkpoint returned {len(got.metadata)} keys; it should return 'epoch' and the {len(extras)} extra "
           "keywords given to save_checkpoint", hint='return {"epoch": epoch, **extra}, the extras at the top level')
    expect(got.metadata["epoch"] == 7, "load_checkpoint did not return the epoch given to save_checkpoint")
    for name, value in extras.items():
        same = torch.equal(got.metadata[name], value) if isinstance(value, torch.Tensor) and isinstance(
            got.metadata[name], torch.Tensor) else got.metadata[name] == value
        expect(same, f"an extra ({type(value).__name__}) came back from load_checkpoint changed",
               hint="keep the extras as they were given: tensors, lists and strings are all fine in a checkpoint")
    expect(got.weights_restored, "after load_checkpoint the fresh model's weights differ from the saved model's",
           hint="save model.state_dict() and restore it with model.load_state_dict")
    expect(math.isclose(got.fresh_lr, 0.01), "the fresh optimizer kept its own learning rate instead of the saved one",
           hint="save optimizer.state_dict() and restore it with optimizer.load_state_dict")
    for name, value in got.stepped.items():
        expect_equal(got.fresh_stepped[name], value, f"{name} after one more Adam step on both models",
                     hint="Adam's running averages live in optimizer.state_dict(): save and restore it, or the "
                          "next step differs")
    expect_same_calls(got.fresh_stopper, got.stopper, "the loaded stopper, against the saved one",
                      hint="save early_stopping.state_dict() and restore it with load_state_dict when a stopper is given")


@points(2, task="save_checkpoint")
def test_checkpoint_restores_torchs_random_number_generator(student):
    """After load_checkpoint, torch's global RNG draws what it drew right after the save."""
    got = student.run("checkpoint_rng", 21)
    expect_equal(got.after_load, got.after_save, "the random numbers drawn after load_checkpoint",
                 hint="save torch.get_rng_state() in the checkpoint and restore it with torch.set_rng_state; "
                      "a checkpoint saved without early_stopping (None) and loaded with the model alone must work too")


@points(2, task="save_checkpoint")
def test_checkpoint_can_be_read_with_weights_only(student):
    """torch.load(path, weights_only=True) reads a checkpoint with Adam's state, a stopper and extras."""
    got = student.run("checkpoint_file")
    expect(got.error is None, f"torch.load(weights_only=True) refused the checkpoint: {describe(got.error)}",
           hint="store state_dict()s, tensors and plain Python values, never a module, an optimizer or an "
                "EarlyStopping object itself")


@points(4, task="save_checkpoint")
def test_a_write_that_fails_half_way_leaves_the_previous_checkpoint(student):
    """When torch.save fails half way through a write, the checkpoint saved before is still whole and loadable."""
    got = student.run("interrupted_save")
    hint = ("write to a temporary file in the same folder, then os.replace it over the checkpoint: a failed "
            "write then never touches the previous file")
    expect(got.readable, "after the failed write the checkpoint file cannot be read any more", hint=hint)
    expect(got.loaded.error is None,
           f"after the failed write load_checkpoint could not read the checkpoint: {describe(got.loaded.error)}",
           hint=hint)
    metadata = got.loaded.metadata if isinstance(got.loaded.metadata, dict) else {}
    expect(metadata.get("epoch") == 1 and metadata.get("note") == "first" and got.loaded.weights_equal,
           "after the failed write the file does not hold the previous checkpoint", hint=hint)
    expect(got.failure is not None, "save_checkpoint did not fail although torch.save did",
           hint="call torch.save (as torch.save) and let its errors propagate")


@points(2, task="load_checkpoint")
def test_a_missing_checkpoint_raises_file_not_found_error(student):
    """load_checkpoint on a path with no file raises FileNotFoundError naming the file."""
    got = student.run("load_bad_checkpoint", "missing")
    expect(got.error is not None, f"load_checkpoint on a missing file returned a {got.returned_type}",
           hint="raise FileNotFoundError")
    expect("FileNotFoundError" in got.error.mro, f"a missing file raised {describe(got.error)}",
           hint="raise FileNotFoundError for a missing file (do not turn it into another error)")
    expect(got.error.names_the_file, "the error for a missing file does not name the file",
           hint="put the path in the message")


@points(3, task="load_checkpoint")
def test_an_unreadable_checkpoint_raises_value_error_and_runs_no_code(student):
    """Random bytes, a truncated file, a tensor, or a pickle that runs code: ValueError naming the file, no code run."""
    for kind in ("random bytes", "truncated", "not a checkpoint", "runs code"):
        got = student.run("load_bad_checkpoint", kind)
        expect(not got.code_ran, "load_checkpoint ran code stored in a checkpoint file",
               hint="read with torch.load(path, weights_only=True): full unpickling runs whatever a file names")
        expect(got.error is not None, f"load_checkpoint returned a {got.returned_type} for a file that holds {kind}",
               hint="check what torch.load gave back: a checkpoint is a dict with the keys save_checkpoint wrote")
        expect("ValueError" in got.error.mro, f"a file with {kind} raised {describe(got.error)}",
               hint="catch what torch.load raises and raise ValueError(f'{path}: ...') from it; check that the "
                    "result is a checkpoint dict")
        expect(got.error.names_the_file, f"the error for a file with {kind} does not name the file",
               hint="put the path in the message")


# --- fit ---------------------------------------------------------------------------------------

# Noisy digits (20% wrong training labels), an MLP 64-32-10 and Adam at a high rate: the validation
# loss falls for a few epochs and then rises as the network learns the wrong labels.
# tests/test_early_stopping_effect.py checks the reference on these seeds, and on 40 other batch
# orders and data sets that the early stop comes well before max_epochs.
EARLY_STOP_SEED = 0            # patience 3: stops well before max_epochs
MAX_EPOCHS_SEED = 3            # patience above max_epochs, with dropout: runs to max_epochs, best before it
FIT_OPTIONS = {"lr": 0.05, "batch_size": 40}
EARLY_STOP = {"p": 0.0, "max_epochs": 30, "patience": 3}
MAX_EPOCHS = {"p": 0.1, "max_epochs": 12, "patience": 50}
INTERRUPT_AFTER_EPOCHS = 10    # the copy of the checkpoints is taken as epoch 11 starts
VALIDATION_SIZE = 300


def probe_state(seed):
    """Initial weights for the probe, drawn like nn.Linear's (uniform, bound 1 / sqrt(fan_in))."""
    generator = torch.Generator().manual_seed(seed)

    def uniform(*shape, fan_in):
        return (torch.rand(*shape, generator=generator) * 2 - 1) / math.sqrt(fan_in)

    return {"hidden.weight": uniform(32, 64, fan_in=64), "hidden.bias": uniform(32, fan_in=64),
            "out.weight": uniform(10, 32, fan_in=32), "out.bias": uniform(10, fan_in=32)}


def indexed(X, first):
    """X with a column 0 holding each row's index: first, first + 1, ... (or -1, -2, ... when first < 0)."""
    step = 1 if first >= 0 else -1
    ids = torch.arange(first, first + step * len(X), step, dtype=torch.float32)
    return torch.cat([ids[:, None], X], dim=1)


def fit_setup(seed, run):
    """The set-up of one graded run: data, initial weights and options, as the scenario takes them."""
    (X, y), (X_val, y_val) = noisy_digits(seed, val_size=VALIDATION_SIZE)
    return {"state": probe_state(seed), "train": (indexed(X, 0), y), "val": (indexed(X_val, -1), y_val),
            "seed": seed, **FIT_OPTIONS, **run}


class Net(nn.Module):
    """The probe's network, in the trusted process (dropout left out: it is the identity in eval mode)."""

    def __init__(self, state):
        super().__init__()
        self.hidden, self.out = nn.Linear(64, 32), nn.Linear(32, 10)
        self.load_state_dict(state)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x[:, 1:])))


def validation_loss(state, val):
    with one_thread(), torch.no_grad():
        return F.cross_entropy(Net(dict(state))(val[0]), val[1]).item()


_RUNS = weakref.WeakKeyDictionary()      # each graded fit runs once per student; its tests share it


def graded_run(student, name):
    """The cached run `name` ("early stop" or "max epochs") of this student, checked for its form.

    A run that failed is cached too, so that every test that needs it fails at once.
    """
    runs = _RUNS.setdefault(student, {})
    if name not in runs:
        try:
            runs[name] = _run(student, name)
        except GradingFailure as failure:
            runs[name] = failure
    if isinstance(runs[name], GradingFailure):
        raise runs[name]
    return runs[name]


def _run(student, name):
    if name == "early stop":
        setup = fit_setup(EARLY_STOP_SEED, EARLY_STOP)
        got = student.run("fit_run", setup)
    else:
        setup = fit_setup(MAX_EPOCHS_SEED, MAX_EPOCHS)
        got = student.run("fit_run", setup, INTERRUPT_AFTER_EPOCHS * batches_per_epoch(setup),
                          probe_state(MAX_EPOCHS_SEED + 100), 12345)
    result = got.result
    expect(isinstance(result, dict), "fit should return a dict",
           hint='return {"train_loss": [...], "val_loss": [...], "best_epoch": ..., "stopped_epoch": ..., '
                '"best_val_loss": ...}')
    for key in ("train_loss", "val_loss", "best_epoch", "stopped_epoch", "best_val_loss"):
        expect(key in result, f"fit's result has no '{key}'")
    expect(len(got.snapshots) >= 1 and len(got.epochs) >= 1, "fit did not train and validate the model",
           hint="every epoch trains on mini-batches of the training set, then measures the validation set")
    losses = [validation_loss(state, setup["val"]) for state in got.snapshots]
    return {"setup": setup, "got": got, "losses": losses}


def batches_per_epoch(setup):
    return math.ceil(len(setup["train"][1]) / setup["batch_size"])


def lowest_epochs(losses):
    """The epochs (from 1) whose validation loss is the lowest (within rounding: a near tie counts)."""
    lowest = min(losses)
    return [epoch for epoch, loss in enumerate(losses, start=1) if loss <= lowest + 1e-6 * max(1.0, abs(lowest))]


@points(1, task="fit")
def test_fit_returns_its_history(student):
    """fit returns train_loss and val_loss (one float per epoch run), best_epoch, stopped_epoch and best_val_loss."""
    result = graded_run(student, "early stop")["got"].result
    expect(is_number(result["stopped_epoch"]) and isinstance(result["stopped_epoch"], int),
           "result['stopped_epoch'] should be an int", hint="the number of the last epoch run, counted from 1")
    expect(isinstance(result["best_epoch"], int) and not isinstance(result["best_epoch"], bool),
           "result['best_epoch'] should be an int", hint="the early stopping's best_epoch")
    expect_number(result["best_val_loss"], "result['best_val_loss']")
    for key in ("train_loss", "val_loss"):
        values = result[key]
        expect(isinstance(values, list) and len(values) == result["stopped_epoch"],
               f"result['{key}'] should be a list with one value per epoch run ({result['stopped_epoch']})",
               hint="append one value per epoch")
        for value in values:
            expect_number(value, f"an entry of result['{key}']")
    expect(all(a > 0 for a in result["train_loss"]), "a training loss is not positive",
           hint="train_loss is the epoch's mean cross-entropy per sample")


@points(3, task="fit")
def test_each_epoch_is_one_pass_of_adam_steps_over_shuffled_batches(student):
    """Each epoch trains in training mode on a new shuffle, one optimizer step per batch on the mean cross-entropy."""
    run = graded_run(student, "early stop")
    got, setup = run["got"], run["setup"]
    size, count = setup["batch_size"], len(setup["train"][1])
    expect(got.train_modes == [True], "some training batches ran with the model in eval mode",
           hint="call model.train() at the start of every epoch: validation switched the model to eval mode")
    orders = []
    for epoch, batches in enumerate(got.epochs, start=1):
        expect([len(batch) for batch in batches] == [size] * (count // size) + ([count % size] if count % size else []),
               f"the batches of epoch {epoch} are not of size batch_size", hint="slice one permutation into batches")
        orders.append([index for batch in batches for index in batch])
        expect(sorted(orders[-1]) == list(range(count)), f"epoch {epoch} did not train on every sample exactly once",
               hint="go through one permutation of all the indices per epoch, in consecutive slices")
    expect(orders[0] != list(range(count)), "the first epoch went through the samples in their stored order",
           hint="shuffle: a new random permutation every epoch")
    expect(all(a != b for a, b in zip(orders, orders[1:])), "two consecutive epochs used the same order",
           hint="draw a new permutation at the start of every epoch")
    expect(len(got.snapshots) == len(got.epochs), "the model was not validated once after every epoch's training",
           hint="validate after the training of each epoch, before the next one starts")
    X, y = setup["train"]
    with one_thread():
        net = Net(setup["state"])
        optimizer = torch.optim.Adam(net.parameters(), lr=setup["lr"])
        for epoch, (batches, snapshot) in enumerate(zip(got.epochs, got.snapshots), start=1):
            for batch in batches:
                batch = torch.tensor(batch)
                optimizer.zero_grad()
                F.cross_entropy(net(X[batch]), y[batch]).backward()
                optimizer.step()
            for name, value in net.state_dict().items():
                expect_close(snapshot[name], value, f"{name} after epoch {epoch}, against the same batches replayed "
                             "with torch.optim.Adam",
                             hint="per batch: the mean F.cross_entropy, optimizer.zero_grad(), loss.backward(), "
                                  "optimizer.step(); nothing else changes the weights")


@points(3, task="fit")
def test_validation_loss_is_measured_in_eval_mode_every_epoch(student):
    """val_loss holds each epoch's mean cross-entropy on the whole validation set, measured in eval mode."""
    for name in ("early stop", "max epochs"):
        run = graded_run(student, name)
        got = run["got"]
        expect(got.val_modes == [False], "the validation set went through the model in training mode",
               hint="model.eval() before validating: in training mode dropout is on, and each call gives another loss")
        reported = got.result["val_loss"]
        expect(isinstance(reported, list) and len(reported) == len(run["losses"]),
               f"val_loss has {len(reported) if isinstance(reported, list) else 'no'} entries for "
               f"{len(run['losses'])} validations", hint="append one validation loss per epoch")
        for epoch, (value, want) in enumerate(zip(reported, run["losses"]), start=1):
            expect(is_number(value) and math.isclose(value, want, rel_tol=1e-5, abs_tol=1e-6),
                   f"val_loss of epoch {epoch} is not the model's validation loss at that epoch (off by "
                   f"{abs(value - want) if is_number(value) else 'a non-number'})",
                   hint="in eval mode and under torch.no_grad(): the mean F.cross_entropy over the whole "
                        "validation set, as a float")


@points(3, task="fit")
def test_stops_patience_epochs_after_the_best_epoch(student):
    """With patience 3, fit stops 3 epochs after the epoch with the lowest validation loss, before max_epochs."""
    run = graded_run(student, "early stop")
    result, losses = run["got"].result, run["losses"]
    patience, max_epochs = run["setup"]["patience"], run["setup"]["max_epochs"]
    expect(len(losses) < max_epochs, f"fit ran all {max_epochs} epochs although the validation loss rose",
           hint="stop as soon as the early stopping returns True")
    expect(result["stopped_epoch"] == len(losses) == len(run["got"].epochs),
           f"fit trained {len(run['got'].epochs)} epochs but reports stopped_epoch {result['stopped_epoch']}",
           hint="stopped_epoch is the number of the last epoch run")
    best = lowest_epochs(losses)
    expect(result["best_epoch"] in best, f"best_epoch is {result['best_epoch']}, but the lowest validation loss "
           f"came at epoch {best[0]}", hint="feed the early stopping the validation loss of each epoch, once")
    expect(result["stopped_epoch"] == result["best_epoch"] + patience,
           f"fit stopped {result['stopped_epoch'] - result['best_epoch']} epochs after the best, not {patience}",
           hint="stop in the epoch the early stopping says stop: after patience epochs without improvement")


@points(3, task="fit")
def test_model_ends_with_the_best_epochs_weights(student):
    """After an early stop the model holds the best epoch's weights, and its validation loss is the lowest seen."""
    run = graded_run(student, "early stop")
    expect_best_weights(run, "after the early stop")


def expect_best_weights(run, when):
    got, losses = run["got"], run["losses"]
    best = lowest_epochs(losses)
    hint = ("put the best epoch's weights back when the loop ends (load best.pt); a copy kept in memory must be "
            "a real copy (clone the tensors): model.state_dict() holds the live weights")
    final = validation_loss(got.final, run["setup"]["val"])
    expect(math.isclose(final, min(losses), rel_tol=1e-5, abs_tol=1e-6),
           f"{when}, the model's validation loss is {final:.4f}; the lowest over the epochs run was "
           f"{min(losses):.4f} (epoch {best[0]})", hint=hint)
    expect(any(all(torch.equal(got.final[name], got.snapshots[epoch - 1][name]) for name in got.final)
               for epoch in best), f"{when}, the model's weights are not exactly those of epoch {best[0]}", hint=hint)
    reported = expect_number(got.result["best_val_loss"], "result['best_val_loss']")
    expect(math.isclose(reported, min(losses), rel_tol=1e-5, abs_tol=1e-6),
           f"best_val_loss is {reported:.4f}, not the lowest validation loss, {min(losses):.4f}",
           hint="return the early stopping's best")


@points(3, task="fit")
def test_best_pt_holds_the_best_epoch_and_last_pt_the_last(student):
    """checkpoint_dir/best.pt holds the best epoch and its weights; last.pt the last epoch and its weights."""
    run = graded_run(student, "early stop")
    got = run["got"]
    best = lowest_epochs(run["losses"])
    for name, file, epochs in (("best", "best.pt", best), ("last", "last.pt", [len(run["losses"])])):
        read = got[name]
        expect(read.error is None, f"{file} could not be read back with load_checkpoint: {describe(read.error)}",
               hint="fit writes checkpoint_dir/last.pt every epoch and checkpoint_dir/best.pt on every improvement")
        expect(read.epoch in epochs, f"{file} holds epoch {read.epoch}, not epoch {epochs[0]}",
               hint="write best.pt only in an epoch that improved on the best; it must not be overwritten by later "
                    "epochs" if name == "best" else "write last.pt at the end of every epoch")
        expect(all(torch.equal(read.state_dict[key], got.snapshots[read.epoch - 1][key]) for key in read.state_dict),
               f"the weights in {file} are not those the model had after epoch {read.epoch}",
               hint="save the model's state at the end of the epoch, after its training")


@points(3, task="fit")
def test_best_weights_are_restored_when_max_epochs_is_reached(student):
    """When max_epochs comes before the early stop, the model still ends with the best epoch's weights."""
    run = graded_run(student, "max epochs")
    max_epochs = run["setup"]["max_epochs"]
    expect(run["got"].result["stopped_epoch"] == max_epochs == len(run["losses"]),
           f"with patience above max_epochs, fit should run all {max_epochs} epochs",
           hint="the loop runs until the early stopping says stop or max_epochs is reached, whichever comes first")
    expect_best_weights(run, "at max_epochs")


@points(5, task="fit")
def test_resumed_run_equals_an_uninterrupted_one(student):
    """A run interrupted after 10 epochs and resumed from last.pt ends bitwise equal to the uninterrupted run."""
    run = graded_run(student, "max epochs")
    resumed = run["got"].resumed
    expect(resumed.error is None, f"fit(..., resume=True) raised {describe(resumed.error)}",
           hint="with resume=True, load checkpoint_dir/last.pt (model, optimizer, early stopping) and go on")
    hint = ("last.pt must hold everything that decides what comes next: the model, the optimizer (Adam's moments), "
            "the early stopping, torch's RNG (the dropout masks), the shuffling generator's state and the history; "
            "fit(..., resume=True) restores them all, then ends with the best weights like any run")
    expect(isinstance(resumed.result, dict), "the resumed fit did not return a dict")
    for key in ("train_loss", "val_loss"):
        expect_same_history(resumed.result.get(key), run["got"].result[key],
                            f"result['{key}'] of the resumed run, against the uninterrupted run's,", hint=hint)
    for key in ("best_epoch", "stopped_epoch", "best_val_loss"):
        expect_equal(resumed.result.get(key), run["got"].result[key],
                     f"result['{key}'] of the resumed run, against the uninterrupted run's", hint=hint)
    for name, value in run["got"].final.items():
        expect_equal(resumed.final[name], value, f"{name} at the end of the resumed run, against the uninterrupted "
                     "run's", hint=hint)


@points(2, task="fit")
def test_resume_continues_after_the_last_checkpoint(student):
    """fit(..., resume=True) trains only the epochs after the one saved in last.pt, not the whole run again."""
    run = graded_run(student, "max epochs")
    resumed = run["got"].resumed
    expect(resumed.error is None, f"fit(..., resume=True) raised {describe(resumed.error)}")
    want = run["setup"]["max_epochs"] - resumed.epochs_before
    expect(resumed.epochs_after == want, f"after an interruption at epoch {resumed.epochs_before + 1}, the resumed "
           f"call trained {resumed.epochs_after} epochs instead of {want}",
           hint="with resume=True, load last.pt and go on from the epoch after the one it holds")
