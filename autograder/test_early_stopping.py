"""Hidden graders for the early_stopping exercise.

EarlyStopping is graded on metric sequences worked out by hand (the lecture's table among them)
and on stoppers whose attributes the scenario sets. save_checkpoint and load_checkpoint are graded
apart, each against a correct partner (the stub fixes the checkpoint's six keys): the file that
save_checkpoint writes is read with torch.load and compared with what it should hold, and
load_checkpoint reads files that a correct save_checkpoint wrote. `fit` runs with a correct
EarlyStopping, save_checkpoint and load_checkpoint in place of the student's
(autograder/scenarios/early_stopping.py), so that only fit's own code decides its tests. It trains
the grader's probe, which records its training batches and its weights at every validation; the
training oracle (autograder/early_stopping_oracle.py, in this trusted process) replays those
batches with torch.optim.Adam and computes every epoch's validation loss, and the stop, the best
epoch and the final weights are checked against it. A resumed run is checked bitwise against the
uninterrupted one.

Each graded fit runs once per submission, for all the tests that read it: the fixtures
`early_stop_run`, `max_epochs_run` and `seeding_runs` ask `graded_runs` (a GradedRuns, one per
module) for it, which runs it for the first test that asks and hands every later test the same
run, or raises the same failure again at once: a fit that failed is never trained twice.

Chance and rounding. Nothing is drawn at random here; what a correct submission may do its own
way is the order of its shuffles and the rounding of its losses. Shuffles: every check that two
orders differ would fail a correct submission only if two independent random permutations of the
200 training samples coincided, probability 1 / 200! < 1e-374 per pair (at most 30 pairs in a test).
The stop is checked against what the early stopping itself said on the losses the submission fed
it, so a batch order that stops later (or never, within max_epochs) is no failure. Rounding: every
loss is compared with the oracle's within 1e-5 relative (the training loss 1e-4), about a hundred
times what float32 rounding can make a correct submission differ by, and a "lowest" epoch counts
every epoch within 1e-6 of the minimum (early_stopping_oracle's docstring gives the argument). In
the stopper's metric sequences every metric is at least 0.01 away from best - min_delta (best +
min_delta in mode "max"), or equal to the best with min_delta 0 (a tie, which float arithmetic
decides exactly), so no comparison rests on float rounding.
"""

import math
from dataclasses import dataclass
from functools import cached_property

import pytest
import torch

# The oracle sits beside this file: `pytest autograder` puts this folder on sys.path (pytest's
# "prepend" import mode, for a folder without __init__.py), as tests/references.py does.
from early_stopping_oracle import (
    CALLER_RNG_SEED,
    EARLY_STOP,
    EARLY_STOP_SEED,
    INTERRUPT_AFTER_EPOCHS,
    MAX_EPOCHS,
    MAX_EPOCHS_SEED,
    RESUME_RNG_SEED,
    RESUME_STATE_OFFSET,
    SEEDING,
    batches_per_epoch,
    close_to_replayed_loss,
    close_to_validation_loss,
    fit_setup,
    lowest_epochs,
    probe_state,
    replay,
    validation_loss,
)

from coursekit.grading.api import (
    GradingFailure,
    exercise,
    expect,
    expect_close,
    expect_equal,
    expect_number,
    is_number,
    points,
)

pytestmark = exercise("early_stopping")


def describe(error):
    """An error from the worker as one line: type, message and where in the student's file."""
    if not error:
        return ""
    where = f" (at {error['where']})" if error.get("where") else ""
    return f"{error['type']}: {error['message']}{where}".lstrip(": ")


def is_plain_dict(value):
    """A dict that came back as data (an object the wire could not carry comes as an opaque dict)."""
    return isinstance(value, dict) and "__opaque__" not in value


def same_value(got, want):
    """Equal plain values; numbers within rounding; NaN equals NaN."""
    if is_number(got) and is_number(want):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(got) and math.isnan(want))
    return type(got) is type(want) and got == want


def same_data(got, want):
    """Equal nested data: tensors bitwise (with their dtype and shape), numbers and strings exactly."""
    if isinstance(want, torch.Tensor):
        return (isinstance(got, torch.Tensor) and got.dtype == want.dtype and got.shape == want.shape
                and torch.equal(got, want))
    if isinstance(want, dict):
        return (is_plain_dict(got) and set(got) == set(want)
                and all(same_data(got[key], value) for key, value in want.items()))
    if isinstance(want, (list, tuple)):
        return (isinstance(got, (list, tuple)) and len(got) == len(want)
                and all(same_data(a, b) for a, b in zip(got, want)))
    if is_number(want):
        return is_number(got) and got == want
    return type(got) is type(want) and got == want


# --- EarlyStopping ------------------------------------------------------------------------------

LECTURE_LOSSES = [2.5, 2.0, 1.5, 1.2, 1.1, 1.15, 1.18, 1.20]     # the lecture's table, up to its stop
SETTINGS_AND_PROGRESS = ("patience", "min_delta", "mode", "best", "best_epoch", "counter", "early_stop", "epoch")


def stopper_calls(student, metrics, as_tensors=False, **options):
    """One new EarlyStopping(**options) fed `metrics`: what it returned and its attributes after each call."""
    got = student.run("stopper_run", list(metrics), options, as_tensors)
    expect(len(got.calls) == len(metrics), "the stopper was not called once per metric")
    for call in got.calls:
        expect(isinstance(call["returned"], bool), f"calling the stopper returned {call['returned']!r}, "
               "not True or False", hint="__call__ returns self.early_stop")
    return got.calls


def missing(value):
    return isinstance(value, str) and value == "missing"


def expect_stops_at(calls, epoch, what, hint):
    """The stopper returned False before `epoch` and True from it on (epoch None: never stopped)."""
    returned = [call["returned"] for call in calls]
    said = returned.index(True) + 1 if True in returned else None
    expect(said == epoch, f"{what}: the stopper said stop {f'at epoch {said}' if said else 'at no epoch'}, "
           f"{f'not at epoch {epoch}' if epoch else 'but it should not stop'}", hint=hint)
    expect(all(returned[epoch - 1:]) if epoch else True, f"{what}: after saying stop, the stopper returned False",
           hint="once it has said stop, every later call returns True")


def expect_attribute(calls, name, want, what, hint=None):
    """An attribute after each call equals `want` (a list, one value per call)."""
    for epoch, (call, value) in enumerate(zip(calls, want), start=1):
        expect(not missing(call[name]), f"the stopper has no attribute {name}",
               hint=f"set {name} in __init__ and keep it up to date in __call__")
        expect(same_value(call[name], value), f"{what}: after epoch {epoch}, {name} is {call[name]!r}, expected "
               f"{value!r}", hint=hint)


def expect_same_calls(got, want, what, hint=None):
    """Two stoppers' calls agree, attribute by attribute; the first difference is named, not the metrics."""
    expect(len(got) == len(want), f"{what}: {len(got)} calls recorded instead of {len(want)}", hint=hint)
    for number, (mine, theirs) in enumerate(zip(got, want), start=1):
        for key in ("returned", "early_stop", "counter", "best_epoch", "best", "epoch"):
            shown = "differs" if key == "best" else f"is {mine[key]!r}, not {theirs[key]!r}"
            expect(same_value(mine[key], theirs[key]), f"{what}: on its call {number}, {key} {shown}", hint=hint)


@points(3, task="EarlyStopping")
def test_lectures_example_stops_at_epoch_8_with_the_best_at_epoch_5(student):
    """The lecture's losses with patience=3, min_delta=0.01 stop at epoch 8, with the best, 1.10, at epoch 5."""
    calls = stopper_calls(student, LECTURE_LOSSES, patience=3, min_delta=0.01)
    hint = ("an epoch improves when loss < best - min_delta; each other epoch adds 1 to the counter, and the "
            "stopper says stop when the counter reaches patience")
    expect_stops_at(calls, 8, "the lecture's example", hint)
    expect_attribute(calls, "counter", [0, 0, 0, 0, 0, 1, 2, 3], "the lecture's example", hint=hint)
    expect_attribute(calls, "best", [2.5, 2.0, 1.5, 1.2, 1.1, 1.1, 1.1, 1.1], "the lecture's example")
    expect_attribute(calls, "epoch", [1, 2, 3, 4, 5, 6, 7, 8], "the lecture's example",
                     hint="epoch counts the calls: each call is one epoch, the first is epoch 1")
    expect_attribute(calls, "best_epoch", [1, 2, 3, 4, 5, 5, 5, 5], "the lecture's example",
                     hint="epochs count from 1: the first call is epoch 1")


@points(1, task="EarlyStopping")
def test_a_new_stopper_has_no_best_yet_and_waits_5_epochs_by_default(student):
    """A new stopper has best None, best_epoch None, counter 0, early_stop False, epoch 0; by default patience is 5."""
    got = student.run("stopper_run", [1.0, 2.0, 2.0, 2.0, 2.0, 2.0], {})
    for name, value in (("best", None), ("best_epoch", None), ("counter", 0), ("early_stop", False), ("epoch", 0)):
        expect(not missing(got.initial[name]), f"a new stopper has no attribute {name}",
               hint="set every attribute in __init__, before any call")
        expect(same_value(got.initial[name], value), f"a new stopper's {name} is {got.initial[name]!r}, expected "
               f"{value!r}", hint="set every attribute in __init__, before any call")
    expect_stops_at(got.calls, 6, "with the default settings", "the default patience is 5")


@points(1, task="EarlyStopping")
def test_a_metric_may_be_a_0_dim_tensor(student):
    """Metrics given as 0-dim tensors count as the floats they hold, and best stays a float."""
    calls = stopper_calls(student, LECTURE_LOSSES, as_tensors=True, patience=3, min_delta=0.01)
    hint = ("__call__ turns the metric into a float before anything else (the stub's metric = float(metric)): "
            "keep that line, so best is a float and not a tensor")
    expect_stops_at(calls, 8, "the lecture's example, given as 0-dim tensors", hint)
    expect_attribute(calls, "best", [2.5, 2.0, 1.5, 1.2, 1.1, 1.1, 1.1, 1.1],
                     "the lecture's example, given as 0-dim tensors", hint=hint)


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
    expect_attribute(calls, "best_epoch", [1, 1, 1, 4, 4, 4, 7, 7, 7, 7], "a loss that improves twice",
                     hint="best_epoch is the number of the call (from 1) that brought the best")


@points(2, task="EarlyStopping")
def test_nan_is_never_an_improvement(student):
    """NaN never improves: not as the first metric, not after a best, and it never becomes the best."""
    nan = math.nan
    hint = ("every comparison with NaN is False, so check math.isnan(metric) first; a NaN epoch counts as an epoch "
            "without improvement")
    calls = stopper_calls(student, [nan, 2.0, 1.0, nan, nan, 0.5], patience=3)
    expect_attribute(calls, "best", [None, 2.0, 1.0, 1.0, 1.0, 0.5], "a run that starts with NaN", hint=hint)
    expect_attribute(calls, "best_epoch", [None, 2, 3, 3, 3, 6], "a run that starts with NaN", hint=hint)
    expect_attribute(calls, "counter", [1, 0, 0, 1, 2, 0], "a run that starts with NaN",
                     hint=hint + "; an improvement sets the counter back to 0")
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
    expect(all(call["early_stop"] is True for call in calls[2:]), "early_stop is not True after the stop",
           hint="an improvement resets the counter, never early_stop")


@points(1, task="EarlyStopping")
def test_patience_0_and_1_stop_at_the_first_epoch_without_improvement(student):
    """With patience 0 or 1 the stop comes at the first epoch without improvement; an improving epoch never stops."""
    for patience in (0, 1):
        calls = stopper_calls(student, [3.0, 2.0, 1.0, 1.5, 0.5], patience=patience)
        expect_stops_at(calls, 4, f"with patience {patience}",
                        "decide to stop only in an epoch without improvement, when the counter has reached "
                        "patience (counter >= patience)")


# Stoppers whose attributes the scenario sets, and the metrics is_improvement is asked about: each
# metric with what it is, which the messages name instead of the values.
IMPROVEMENT_CASES = [
    ({"options": {"patience": 3}, "state": {}},
     [(2.0, True, "a first number"), (math.nan, False, "a first NaN")]),
    ({"options": {"patience": 3, "min_delta": 0.1}, "state": {"best": 1.0, "best_epoch": 3, "counter": 1, "epoch": 4}},
     [(0.85, True, "a loss below the best by more than min_delta"),
      (0.95, False, "a loss below the best by less than min_delta"),
      (1.0, False, "a loss equal to the best"), (1.2, False, "a loss above the best"), (math.nan, False, "NaN")]),
    ({"options": {"patience": 3, "min_delta": 0.05, "mode": "max"},
      "state": {"best": 0.5, "best_epoch": 2, "counter": 0, "epoch": 2}},
     [(0.6, True, "an accuracy above the best by more than min_delta"),
      (0.52, False, "an accuracy above the best by less than min_delta"),
      (0.5, False, "an accuracy equal to the best"), (0.4, False, "an accuracy below the best"),
      (math.nan, False, "NaN")]),
]


@points(2, task="EarlyStopping")
def test_is_improvement_answers_without_changing_the_stopper(student):
    """is_improvement(metric) says whether metric beats the best by more than min_delta, and changes no attribute."""
    cases = [{**case, "metrics": [metric for metric, _, _ in asked]} for case, asked in IMPROVEMENT_CASES]
    got = student.run("stopper_is_improvement", cases)
    hint = ("True when there is no best yet and metric is a number; never for NaN; otherwise metric < best - "
            "min_delta in mode 'min', metric > best + min_delta in mode 'max'")
    for (case, asked), result in zip(IMPROVEMENT_CASES, got):
        mode = case["options"].get("mode", "min")
        for (_, want, what), answer in zip(asked, result["answers"]):
            expect(isinstance(answer, bool), f"is_improvement returned {answer!r}, not True or False",
                   hint="return the comparison itself (a bool)")
            expect(answer == want, f"mode '{mode}': is_improvement of {what} returned {answer}", hint=hint)
        for name, value in result["before"].items():
            expect(same_value(result["after"][name], value), f"is_improvement changed the stopper's {name}",
                   hint="is_improvement only answers; __call__ updates best, best_epoch and counter")


# A stopper with settings other than the defaults, after its stop, and a later state of it.
STATE_OPTIONS = {"patience": 3, "min_delta": 0.05, "mode": "max"}
STATE_PROGRESS = {"best": 0.8, "best_epoch": 2, "counter": 3, "early_stop": True, "epoch": 5}
STATE_LATER = {"best": 0.95, "best_epoch": 7, "counter": 0, "epoch": 7}
STATE_METRICS = [0.9, 0.85, 0.7]


def stopper_state(student):
    return student.run("stopper_state_dict", STATE_OPTIONS, STATE_PROGRESS, STATE_LATER, STATE_METRICS)


def expect_restored(attributes, present, what, hint):
    """A stopper loaded with the state_dict has the saved settings and progress (those of the
    attributes a new stopper has: a missing one costs the points of the tests of __init__)."""
    saved = {**STATE_OPTIONS, **STATE_PROGRESS}
    for name in present:
        expect(not missing(attributes[name]), f"{what} has no attribute {name}", hint=hint)
        expect(same_value(attributes[name], saved[name]),
               f"{what}: {name} is {attributes[name]!r}, not the saved stopper's", hint=hint)


@points(2, task="EarlyStopping")
def test_state_dict_round_trip_restores_every_attribute(student):
    """A new EarlyStopping() loaded with state_dict() gets every setting and all the progress, and goes on alike."""
    got = stopper_state(student)
    hint = ("state_dict returns a new dict with the settings (patience, min_delta, mode) and the progress "
            "(best, best_epoch, counter, early_stop, epoch); load_state_dict sets them all")
    expect(got.state_type == "dict", f"state_dict() returned a {got.state_type}, not a dict", hint=hint)
    expect_restored(got.restored, got.present, "a stopper built with the default settings and loaded with "
                    "state_dict()", hint)
    expect(got.load_returned is None, "load_state_dict returned something; it should return None")
    if got.twin.error is None:          # the continuation is compared only when the original's calls run
        expect(got.restored_continued.error is None,
               f"the loaded stopper raised {describe(got.restored_continued.error)} where the original did not",
               hint=hint)
        expect_same_calls(got.restored_continued.calls, got.twin.calls, "the loaded stopper's next calls, against "
                          "the original's", hint="everything __call__ uses must be in the state_dict")


@points(1, task="EarlyStopping")
def test_state_dict_is_a_snapshot(student):
    """A dict returned by state_dict() stays as it was when the stopper goes on afterwards."""
    got = stopper_state(student)
    expect(got.state_type == "dict", f"state_dict() returned a {got.state_type}, not a dict")
    expect_restored(got.snapshot, got.present, "a stopper loaded with a state_dict() taken before the original "
                    "went on",
                    hint="state_dict must return a new dict, not the object's own __dict__ (vars(self)), which "
                         "changes with every later call; and load_state_dict must set every attribute")


@points(1, task="EarlyStopping")
def test_state_dict_holds_plain_values_that_weights_only_reads(student):
    """state_dict() holds plain values only (numbers, strings, bools, None), which torch.load(weights_only=True)
    reads back."""
    got = stopper_state(student)
    hint = "store the attributes themselves, plain Python values: no tensors, no objects"
    expect(got.state_type == "dict", f"state_dict() returned a {got.state_type}, not a dict", hint=hint)
    expect(not got.not_plain, f"state_dict() holds values of type {', '.join(got.not_plain)}", hint=hint)
    expect(got.weights_only_error is None,
           f"torch.load(weights_only=True) could not read state_dict()'s dict back: {describe(got.weights_only_error)}",
           hint=hint)
    expect_restored(got.from_file, got.present, "a stopper loaded with the state_dict() read back from a file",
                    hint="load_state_dict sets every attribute from the dict")


# --- save_checkpoint ----------------------------------------------------------------------------

SAVE_EXTRAS = {"history": [0.9, 0.7, 0.65], "note": "resume me",
               "generator_state": torch.Generator().manual_seed(5).get_state()}


def saved_file(got):
    """What save_checkpoint's file holds, as a dict (checked: the file exists and is a dict)."""
    expect(got.file.error is None, f"the checkpoint file could not be read: {describe(got.file.error)}",
           hint="save_checkpoint writes one file at path with torch.save")
    contents = got.file.contents
    expect(is_plain_dict(contents), "the checkpoint file does not hold a dict",
           hint="save one dict with the keys listed in save_checkpoint's docstring")
    return contents


def expect_entry(contents, key, want, hint):
    expect(key in contents, f"the checkpoint has no '{key}' entry (it has {sorted(contents)})", hint=hint)
    expect(same_data(contents[key], want), f"the checkpoint's '{key}' is not what it should hold", hint=hint)


@points(2, task="save_checkpoint")
def test_checkpoint_holds_the_model_the_optimizer_and_the_epoch(student):
    """The file holds model.state_dict() under "model", optimizer.state_dict() under "optimizer", and "epoch"."""
    got = student.run("save_contents", True, {})
    contents = saved_file(got)
    expect_entry(contents, "model", got.model, hint='"model": model.state_dict(), the weights as they are')
    expect_entry(contents, "optimizer", got.optimizer,
                 hint='"optimizer": optimizer.state_dict(): Adam\'s running averages and step counts, and its settings')
    expect_entry(contents, "epoch", 4, hint='"epoch": the epoch given')
    expect(got.returned_type == "NoneType", f"save_checkpoint returned a {got.returned_type}; it returns None")


@points(1, task="save_checkpoint")
def test_checkpoint_holds_the_early_stoppings_state_and_the_extras(student):
    """The file holds early_stopping.state_dict() (or None) under "early_stopping" and the extra keywords under
    "extra"."""
    hint_stopper = '"early_stopping": early_stopping.state_dict(), or None when no early stopping is given'
    hint_extra = '"extra": a dict of the extra keywords, as they were given ({} when there are none)'
    got = student.run("save_contents", True, SAVE_EXTRAS, True)
    contents = saved_file(got)
    expect_entry(contents, "early_stopping", got.early_stopping, hint=hint_stopper)
    expect_entry(contents, "extra", SAVE_EXTRAS, hint=hint_extra)
    got = student.run("save_contents", False, {})
    contents = saved_file(got)
    expect("early_stopping" in contents and contents["early_stopping"] is None,
           "without an early stopping, the checkpoint's 'early_stopping' is not None", hint=hint_stopper)
    expect_entry(contents, "extra", {}, hint=hint_extra)


@points(1, task="save_checkpoint")
def test_checkpoint_holds_torchs_rng_state(student):
    """The file holds torch.get_rng_state(), as it was when save_checkpoint was called, under "rng_state"."""
    got = student.run("save_contents", True, {})
    expect_entry(saved_file(got), "rng_state", got.rng_state,
                 hint='"rng_state": torch.get_rng_state(), taken in save_checkpoint without drawing anything first')


@points(1, task="save_checkpoint")
def test_checkpoint_can_be_read_with_weights_only(student):
    """torch.load(path, weights_only=True) reads a checkpoint with Adam's state, a stopper and extras."""
    got = student.run("save_weights_only")
    expect(got.written, "save_checkpoint wrote no file at path", hint="write the checkpoint with torch.save")
    expect(got.error is None, f"torch.load(weights_only=True) refused the checkpoint: {describe(got.error)}",
           hint="store state_dict()s, tensors and plain Python values, never a module, an optimizer or an "
                "EarlyStopping object itself")
    expect(got.model_read is not None and same_data(got.model_read, got.model),
           "what torch.load(weights_only=True) reads holds no 'model' with the model's weights",
           hint='"model": model.state_dict()')


SAVE_HINT = ("write to a temporary file in the same folder, then os.replace it over the checkpoint: a failed "
             "write then never touches the previous file")


@points(2, task="save_checkpoint")
def test_a_write_that_fails_half_way_leaves_the_previous_checkpoint(student):
    """When torch.save fails half way through a write, the file saved before is still there, byte for byte."""
    got = student.run("interrupted_save")
    expect(got.first is not None, "save_checkpoint wrote no file at path", hint="write the checkpoint with torch.save")
    expect(got.after is not None, "after the failed write there is no file at path any more", hint=SAVE_HINT)
    expect(got.after == got.first, "after the failed write the file at path is no longer the checkpoint saved "
           "before it", hint=SAVE_HINT)


@points(1, task="save_checkpoint")
def test_a_write_that_fails_raises_torch_saves_error(student):
    """When torch.save fails half way through a write, its error comes out of save_checkpoint as it was, and the
    file saved before is still there.

    The error pays only together with the previous file left intact: a plain torch.save(checkpoint, path)
    lets the error through too.
    """
    got = student.run("interrupted_save")
    expect(got.failure is not None, "save_checkpoint did not fail although torch.save did",
           hint="call torch.save (as torch.save) and let its errors propagate")
    expect(got.failure.type == "_SimulatedCrash", f"torch.save's error came out of save_checkpoint as "
           f"{describe(got.failure)}", hint="let the error propagate as it is: remove the temporary file, then raise")
    expect(got.first is not None and got.after == got.first, "torch.save's error came out, but the failed write "
           "did not leave the checkpoint saved before it in place",
           hint="this point is for raising the error while keeping the previous file: " + SAVE_HINT)


@points(1, task="save_checkpoint")
def test_the_temporary_file_is_written_beside_the_checkpoint_and_never_left_behind(student):
    """torch.save writes a temporary file in the checkpoint's folder, which is gone after a write that succeeds,
    fails or is interrupted."""
    got = student.run("save_leftovers")
    expect(got.written, "save_checkpoint wrote no file at path", hint="write the checkpoint with torch.save")
    for case, what in (("success", "a write that succeeded"), ("error", "a write that failed with an OSError"),
                       ("interrupt", "a write interrupted by Ctrl-C (KeyboardInterrupt)")):
        report = got[case]
        expect("the checkpoint itself" not in report.targets, f"in {what}, torch.save wrote straight into the "
               "checkpoint file, not into a temporary file", hint=SAVE_HINT)
        expect("elsewhere" not in report.targets, f"in {what}, torch.save wrote into a file outside the checkpoint's "
               "folder", hint="make the temporary file in the checkpoint's folder: between file systems os.replace "
                              "fails (tempfile's functions take dir=path.parent)")
        expect(not report.left, f"after {what}, the temporary file is still there",
               hint="os.replace moves it on success; on any failure, Ctrl-C included (except BaseException, or "
                    "try/finally), remove it before the error propagates")


# --- load_checkpoint ----------------------------------------------------------------------------

@points(1, task="load_checkpoint")
def test_load_restores_the_models_weights(student):
    """Loading a checkpoint into a fresh model gives it the saved weights, in place."""
    got = student.run("load_model_and_optimizer")
    for name, value in got.saved.items():
        expect_equal(got.loaded[name], value, f"{name} after load_checkpoint, against the saved model's",
                     hint='restore checkpoint["model"] with model.load_state_dict(...): the model given is '
                          "changed in place (model.state_dict() is a new dict, so updating it changes nothing)")


@points(1, task="load_checkpoint")
def test_load_restores_the_optimizers_state(student):
    """Loading a checkpoint into a fresh Adam restores its settings and running averages: the next step is the
    same as the saved optimizer's."""
    got = student.run("load_model_and_optimizer")
    expect(math.isclose(got.fresh_lr, 0.01), "the fresh optimizer kept its own learning rate instead of the saved one",
           hint='restore checkpoint["optimizer"] with optimizer.load_state_dict when an optimizer is given')
    for name, value in got.stepped.items():
        expect_equal(got.fresh_stepped[name], value, f"{name} after one more Adam step on both models",
                     hint="Adam's running averages live in optimizer.state_dict(): restore it with "
                          "optimizer.load_state_dict, or the next step differs (and restore the model too)")


LOAD_EXTRAS = {"history": [0.9, 0.7, 0.65], "note": "resume me",
               "generator_state": torch.Generator().manual_seed(6).get_state()}


@points(2, task="load_checkpoint")
def test_load_returns_the_epoch_and_the_extras(student):
    """load_checkpoint returns {"epoch": epoch, **extra}: the epoch and each extra keyword, as saved."""
    got = student.run("load_metadata", LOAD_EXTRAS)
    hint = 'return {"epoch": checkpoint["epoch"], **checkpoint["extra"]}: the extras at the top level'
    for returned, extras, epoch in ((got.with_extras, LOAD_EXTRAS, 7), (got.without, {}, 2)):
        what = "with extras" if extras else "without extras"
        expect(is_plain_dict(returned), f"load_checkpoint {what} returned no dict", hint=hint)
        expect(set(returned) == {"epoch", *extras}, f"load_checkpoint {what} returned the keys {sorted(returned)}; "
               f"it should return 'epoch' and the {len(extras)} extra keywords saved", hint=hint)
        expect(same_data(returned["epoch"], epoch), f"load_checkpoint {what} returned another epoch than the saved one",
               hint=hint)
        for name, value in extras.items():
            expect(same_data(returned[name], value), f"an extra ({type(value).__name__}) came back from "
                   "load_checkpoint changed", hint="give the extras back as they were saved")


@points(1, task="load_checkpoint")
def test_load_restores_the_early_stopping(student):
    """Given an early stopping, load_checkpoint restores it with its load_state_dict from the checkpoint's state."""
    got = student.run("load_stopper")
    for name, value in got.saved.items():
        expect(same_value(got.loaded[name], value), f"after load_checkpoint, the early stopping's {name} is not the "
               "saved one", hint='call early_stopping.load_state_dict(checkpoint["early_stopping"]) when an '
                                 "early stopping is given")


@points(1, task="load_checkpoint")
def test_load_restores_torchs_random_number_generator(student):
    """After load_checkpoint (model alone), torch's global RNG draws what it drew right after the save."""
    got = student.run("load_rng", 21)
    expect_equal(got.after_load, got.after_save, "the random numbers drawn after load_checkpoint",
                 hint='restore checkpoint["rng_state"] with torch.set_rng_state, also when optimizer and '
                      "early_stopping are None")


@points(1, task="load_checkpoint")
def test_a_missing_checkpoint_raises_file_not_found_error(student):
    """load_checkpoint on a path with no file raises FileNotFoundError naming the file."""
    got = student.run("load_bad_checkpoint", "missing")
    expect(got.error is not None, f"load_checkpoint on a missing file returned a {got.returned_type}",
           hint="raise FileNotFoundError")
    expect("FileNotFoundError" in got.error.mro, f"a missing file raised {describe(got.error)}",
           hint="raise FileNotFoundError for a missing file (do not turn it into another error)")
    expect(got.error.names_the_file, "the error for a missing file does not name the file",
           hint="put the path in the message")


UNREADABLE = ("random bytes", "a truncated checkpoint", "a tensor", "a model's state_dict",
              "a checkpoint with an object weights_only refuses")


@points(2, task="load_checkpoint")
def test_an_unreadable_checkpoint_raises_value_error_naming_the_file(student):
    """Random bytes, a truncated file, a tensor, a bare state_dict, or an object weights_only refuses: ValueError
    naming the file."""
    for kind in UNREADABLE:
        got = student.run("load_bad_checkpoint", kind)
        expect(got.error is not None, f"load_checkpoint returned a {got.returned_type} for a file that holds {kind}",
               hint="read with torch.load(path, weights_only=True), and check what it gave back: a checkpoint is a "
                    "dict with the six keys save_checkpoint writes")
        expect("ValueError" in got.error.mro, f"a file with {kind} raised {describe(got.error)}",
               hint="catch what torch.load raises and raise ValueError(f'{path}: ...') from it; check that the "
                    "result is a dict with the six keys, before using it")
        expect(got.error.names_the_file, f"the error for a file with {kind} does not name the file",
               hint="put the path in the message")


@points(1, task="load_checkpoint")
def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(student):
    """A file whose unpickling would run code: ValueError naming the file, and the code never runs."""
    got = student.run("load_bad_checkpoint", "a pickle that runs code")
    expect(not got.code_ran, "load_checkpoint ran code stored in a checkpoint file",
           hint="read with torch.load(path, weights_only=True): full unpickling runs whatever a file names")
    expect(got.error is not None,
           f"load_checkpoint returned a {got.returned_type} for a file that weights_only refuses",
           hint="torch.load(path, weights_only=True) refuses it: turn its error into a ValueError")
    expect("ValueError" in got.error.mro and got.error.names_the_file,
           f"a file that weights_only refuses raised {describe(got.error)}",
           hint="catch what torch.load raises and raise ValueError(f'{path}: ...') from it")


# --- fit ---------------------------------------------------------------------------------------

FIT_NOTE = ("(fit is graded with a correct EarlyStopping, save_checkpoint and load_checkpoint put in place of "
            "yours, so only fit's own code decides this test)")
RESULT_KEYS = ("train_loss", "val_loss", "best_epoch", "stopped_epoch", "best_val_loss")


@dataclass
class FitRun:
    """One graded fit of the submission: its set-up (early_stopping_oracle.fit_setup), what the scenario
    `fit_run` recorded of it (`got`: result, final, epochs, snapshots, train_modes, val_modes, val_grad, fed,
    stopper, best, last and, for an interrupted run, resumed), and the oracle's validation loss of the
    weights of each epoch it ran (`losses`)."""

    setup: dict
    got: dict
    losses: list

    @cached_property
    def replayed(self):
        """The oracle's replay of the recorded batches: the weights after each epoch, the training losses."""
        return replay(self.setup, self.got.epochs)


def checked_fit(setup, got):
    """A FitRun of what `fit_run` returned, once the run has the form that every test of it reads."""
    result = got.result
    expect(is_plain_dict(result), "fit should return a dict",
           hint='return {"train_loss": [...], "val_loss": [...], "best_epoch": ..., "stopped_epoch": ..., '
                '"best_val_loss": ...}')
    for key in RESULT_KEYS:
        expect(key in result, f"fit's result has no '{key}'")
    expect(len(got.snapshots) >= 1 and len(got.epochs) >= 1, "fit did not train and validate the model",
           hint="every epoch trains on mini-batches of the training set, then measures the validation set")
    return FitRun(setup, got, [validation_loss(state, setup["val"]) for state in got.snapshots])


def early_stop_fit(student):
    """The "early stop" run: no dropout, patience 3, max_epochs 30, batches of 48 (the last one of 8)."""
    setup = fit_setup(EARLY_STOP_SEED, EARLY_STOP)
    return checked_fit(setup, student.run("fit_run", setup, caller_rng_seed=CALLER_RNG_SEED))


def max_epochs_fit(student):
    """The "max epochs" run: dropout 0.1, patience above max_epochs 12; a copy of its checkpoints is taken as
    epoch 11 starts, and a new process resumes from it (got.resumed)."""
    setup = fit_setup(MAX_EPOCHS_SEED, MAX_EPOCHS)
    got = student.run("fit_run", setup, INTERRUPT_AFTER_EPOCHS * batches_per_epoch(setup),
                      probe_state(MAX_EPOCHS_SEED + RESUME_STATE_OFFSET), RESUME_RNG_SEED,
                      caller_rng_seed=CALLER_RNG_SEED)
    return checked_fit(setup, got)


def seeding_fits(student):
    """Three fresh 2-epoch fits: [the set-up, torch's RNG seeded with 11], [the same, 22], [another seed, 11]."""
    setup = fit_setup(MAX_EPOCHS_SEED, SEEDING)
    return student.run("fit_seeding", [[setup, 11], [setup, 22], [{**setup, "seed": setup["seed"] + 1}, 11]])


class GradedRuns:
    """The graded fits of a submission, each run once: a fit trains for seconds, and many tests read it.

    get(student, run) calls run(student) for the first test that asks, and hands every later test
    the same answer; a run that failed raises the same GradingFailure again at once, so that each
    test that needs it fails quickly instead of training again.
    """

    def __init__(self):
        self._answers = {}       # (student, run) -> what run(student) returned, or the GradingFailure it raised

    def get(self, student, run):
        key = (student, run)
        if key not in self._answers:
            try:
                self._answers[key] = run(student)
            except GradingFailure as failure:
                self._answers[key] = failure
        if isinstance(self._answers[key], GradingFailure):
            raise self._answers[key]
        return self._answers[key]


@pytest.fixture(scope="module")
def graded_runs():
    """This module's GradedRuns: every graded fit of the submission, run once for all its tests."""
    return GradedRuns()


@pytest.fixture
def early_stop_run(student, graded_runs):
    """The FitRun "early stop" (early_stop_fit): it should stop well before max_epochs."""
    return graded_runs.get(student, early_stop_fit)


@pytest.fixture
def max_epochs_run(student, graded_runs):
    """The FitRun "max epochs" (max_epochs_fit): it runs to max_epochs, interrupted and resumed on the way."""
    return graded_runs.get(student, max_epochs_fit)


@pytest.fixture
def seeding_runs(student, graded_runs):
    """The three records of seeding_fits: result, final weights and the first epoch's sample order."""
    return graded_runs.get(student, seeding_fits)


@points(1, task="fit")
def test_train_loss_and_val_loss_hold_one_float_per_epoch(early_stop_run):
    """result["train_loss"] and result["val_loss"] are lists that hold one float per epoch run."""
    result, ran = early_stop_run.got.result, len(early_stop_run.got.epochs)
    for key in ("train_loss", "val_loss"):
        values = result[key]
        expect(isinstance(values, list) and len(values) == ran,
               f"result['{key}'] should be a list with one value per epoch run ({ran})",
               hint="append one value per epoch")
        for value in values:
            expect_number(value, f"an entry of result['{key}']")


@points(1, task="fit")
def test_every_epoch_trains_in_training_mode(early_stop_run):
    """Every training batch goes through the model in training mode, in every epoch."""
    expect(early_stop_run.got.train_modes == [True], "some training batches ran with the model in eval mode",
           hint="call model.train() at the start of every epoch: validation switched the model to eval mode")


@points(1, task="fit")
def test_each_epoch_is_one_pass_over_a_new_shuffle_in_batches_of_batch_size(early_stop_run):
    """Each epoch goes once through a new random permutation of the training set, in consecutive batches of
    batch_size (the last one smaller)."""
    setup, epochs = early_stop_run.setup, early_stop_run.got.epochs
    size, count = setup["batch_size"], len(setup["train"][1])
    sizes = [size] * (count // size) + ([count % size] if count % size else [])
    orders = []
    for epoch, batches in enumerate(epochs, start=1):
        expect([len(batch) for batch in batches] == sizes, f"the batches of epoch {epoch} are not of size batch_size",
               hint="slice one permutation into consecutive batches of batch_size; only the last may be smaller")
        orders.append([index for batch in batches for index in batch])
        expect(sorted(orders[-1]) == list(range(count)), f"epoch {epoch} did not train on every sample exactly once",
               hint="go through one permutation of all the indices per epoch, in consecutive slices")
    # A random order is the stored one, or equals the epoch before, with probability 1 / 200! each.
    expect(orders[0] != list(range(count)), "the first epoch went through the samples in their stored order",
           hint="shuffle: a new random permutation every epoch")
    expect(all(a != b for a, b in zip(orders, orders[1:])), "two consecutive epochs used the same order",
           hint="draw a new permutation at the start of every epoch")


@points(1, task="fit")
def test_each_batch_is_one_adam_step_on_its_mean_cross_entropy(early_stop_run):
    """After each epoch the weights are those that torch.optim.Adam reaches on the same batches: one step per
    batch on the batch's mean cross-entropy."""
    got = early_stop_run.got
    expect(len(got.snapshots) == len(got.epochs), "the model was not validated once after every epoch's training",
           hint="validate after the training of each epoch, before the next one starts")
    for epoch, (state, snapshot) in enumerate(zip(early_stop_run.replayed.states, got.snapshots), start=1):
        for name, value in state.items():
            expect_close(snapshot[name], value, f"{name} after epoch {epoch}, against the same batches replayed "
                         "with torch.optim.Adam",
                         hint="per batch: the mean F.cross_entropy, optimizer.zero_grad(), loss.backward(), "
                              "optimizer.step(); nothing else changes the weights")


@points(1, task="fit")
def test_train_loss_is_each_epochs_mean_loss_per_sample(early_stop_run):
    """train_loss holds each epoch's batch losses, as they came, averaged with the batch sizes as weights."""
    reported, want = early_stop_run.got.result["train_loss"], early_stop_run.replayed.train_losses
    hint = ("add loss.item() * len(batch) for every batch as it is trained and divide by the number of samples: the "
            "last batch is smaller, so a plain mean of the batch losses is off; no extra pass over the training set "
            "(if the test of the optimizer steps fails too, fix that first)")
    expect(isinstance(reported, list) and len(reported) == len(want),
           f"train_loss has {len(reported) if isinstance(reported, list) else 'no'} entries for {len(want)} epochs",
           hint="append one training loss per epoch")
    for epoch, (value, loss) in enumerate(zip(reported, want), start=1):
        expect(close_to_replayed_loss(value, loss),
               f"train_loss of epoch {epoch} is not the epoch's mean batch loss per sample (off by "
               f"{abs(value - loss) if is_number(value) else 'a non-number'})", hint=hint)


@points(1, task="fit")
def test_validation_runs_in_eval_mode(early_stop_run, max_epochs_run):
    """The validation set goes through the model in eval mode, with dropout off, in every epoch."""
    for run in (early_stop_run, max_epochs_run):
        expect(run.got.val_modes == [False], "the validation set went through the model in training mode",
               hint="model.eval() before validating: in training mode dropout is on, and each call gives another loss")


@points(1, task="fit")
def test_validation_runs_without_gradients(early_stop_run, max_epochs_run):
    """The validation set goes through the model under torch.no_grad(), in every epoch."""
    for run in (early_stop_run, max_epochs_run):
        expect(run.got.val_grad == [False], "the validation set went through the model with gradients enabled",
               hint="validate under torch.no_grad(): nothing is trained on it, and the graph would only cost memory")


@points(1, task="fit")
def test_val_loss_is_the_mean_cross_entropy_on_the_whole_validation_set(early_stop_run, max_epochs_run):
    """val_loss holds, for each epoch, the mean cross-entropy of the model on the whole validation set."""
    for run in (early_stop_run, max_epochs_run):
        reported = run.got.result["val_loss"]
        expect(isinstance(reported, list) and len(reported) == len(run.losses),
               f"val_loss has {len(reported) if isinstance(reported, list) else 'no'} entries for "
               f"{len(run.losses)} validations", hint="append one validation loss per epoch")
        for epoch, (value, want) in enumerate(zip(reported, run.losses), start=1):
            expect(close_to_validation_loss(value, want),
                   f"val_loss of epoch {epoch} is not the model's validation loss at that epoch (off by "
                   f"{abs(value - want) if is_number(value) else 'a non-number'})",
                   hint="in eval mode and under torch.no_grad(): F.cross_entropy of the whole validation set in "
                        "one call (the mean over all its samples), as a float")


@points(1, task="fit")
def test_the_early_stopping_is_fed_each_epochs_validation_loss(early_stop_run):
    """fit calls the early stopping once per epoch, with that epoch's validation loss."""
    got, losses = early_stop_run.got, early_stop_run.losses
    expect(len(got.fed) == len(losses), f"fit called the early stopping {len(got.fed)} times in {len(losses)} epochs",
           hint="call early_stopping(val_loss) once per epoch, after validating " + FIT_NOTE)
    for epoch, (fed, want) in enumerate(zip(got.fed, losses), start=1):
        expect(close_to_validation_loss(fed["metric"], want),
               f"in epoch {epoch} the early stopping was fed something other than that epoch's validation loss",
               hint="feed it val_loss, measured after the epoch's training")


@points(1, task="fit")
def test_stops_in_the_epoch_the_early_stopping_says_stop(early_stop_run):
    """fit trains until the early stopping says stop, and not one epoch more, or until max_epochs."""
    got, ran, max_epochs = early_stop_run.got, len(early_stop_run.losses), early_stop_run.setup["max_epochs"]
    said = [epoch for epoch, fed in enumerate(got.fed, start=1) if fed["said_stop"]]
    expect(not said or ran <= said[0], f"the early stopping said stop at epoch {said[0] if said else 0}, but fit went "
           f"on to epoch {ran}", hint="leave the loop in the epoch the early stopping returns True " + FIT_NOTE)
    expect(ran == (said[0] if said else max_epochs), f"fit stopped after epoch {ran}, before the early stopping said "
           "stop and before max_epochs", hint="run until the early stopping says stop or max_epochs is reached")


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


@points(1, task="fit")
def test_result_reports_the_last_epoch_and_the_early_stoppings_best(early_stop_run):
    """stopped_epoch is the number of the last epoch run; best_epoch and best_val_loss are the early stopping's."""
    got, ran = early_stop_run.got, len(early_stop_run.losses)
    result, stopper = got.result, got.stopper
    expect(is_int(result["stopped_epoch"]) and result["stopped_epoch"] == ran,
           f"fit trained {ran} epochs but reports stopped_epoch {result['stopped_epoch']!r}",
           hint="stopped_epoch is the number of the last epoch run, an int counted from 1")
    expect(is_int(result["best_epoch"]) and result["best_epoch"] == stopper["best_epoch"],
           f"best_epoch is {result['best_epoch']!r}, not the early stopping's best_epoch, {stopper['best_epoch']}",
           hint="return early_stopping.best_epoch: the stopper counts the epochs from 1")
    reported = expect_number(result["best_val_loss"], "result['best_val_loss']")
    expect(same_value(reported, stopper["best"]), f"best_val_loss is {reported:.6g}, not the early stopping's best, "
           f"{stopper['best']}", hint="return early_stopping.best")


def expect_best_weights(run, when):
    """The model's final weights are exactly those of an epoch with the lowest validation loss."""
    got, losses = run.got, run.losses
    best = lowest_epochs(losses)
    hint = ("put the best epoch's weights back when the loop ends (load best.pt); a copy kept in memory must be "
            "a real copy (clone the tensors): model.state_dict() holds the live weights; and the early stopping "
            "must be fed each epoch's validation loss, so that its best is the lowest")
    final = validation_loss(got.final, run.setup["val"])
    expect(close_to_validation_loss(final, min(losses)),
           f"{when}, the model's validation loss is {final:.4f}; the lowest over the epochs run was "
           f"{min(losses):.4f} (epoch {best[0]})", hint=hint)
    expect(any(all(torch.equal(got.final[name], got.snapshots[epoch - 1][name]) for name in got.final)
               for epoch in best), f"{when}, the model's weights are not exactly those of epoch {best[0]}", hint=hint)


@points(2, task="fit")
def test_model_ends_with_the_best_epochs_weights(early_stop_run):
    """When fit returns after an early stop, the model holds the weights of the epoch with the lowest validation
    loss."""
    expect_best_weights(early_stop_run, "when fit returns")


@points(2, task="fit")
def test_best_weights_are_restored_when_max_epochs_is_reached(max_epochs_run):
    """When max_epochs comes before the early stop, the model still ends with the best epoch's weights."""
    max_epochs = max_epochs_run.setup["max_epochs"]
    expect(len(max_epochs_run.losses) == max_epochs, f"with patience above max_epochs, fit should run all "
           f"{max_epochs} epochs", hint="the loop runs until the early stopping says stop or max_epochs is reached, "
                                        "whichever comes first")
    expect_best_weights(max_epochs_run, "at max_epochs")


def expect_checkpoint(run, name, epochs, hint):
    """checkpoint_dir/<name>.pt holds one of `epochs` and the weights the model had after it."""
    read, file = run.got[name], f"{name}.pt"
    expect(read.error is None, f"{file} could not be read back: {describe(read.error)}",
           hint="fit creates checkpoint_dir if it is missing, writes checkpoint_dir/last.pt with save_checkpoint "
                "every epoch and checkpoint_dir/best.pt on every improvement; extras are tensors and plain values")
    expect(read.epoch in epochs, f"{file} holds epoch {read.epoch}, not epoch {epochs[0]}", hint=hint)
    expect(all(torch.equal(read.state_dict[key], run.got.snapshots[read.epoch - 1][key]) for key in read.state_dict),
           f"the weights in {file} are not those the model had after epoch {read.epoch}",
           hint="save the model's state at the end of the epoch, after its training and validation")


@points(1, task="fit")
def test_best_pt_holds_the_best_epoch_and_its_weights(early_stop_run):
    """When fit returns, checkpoint_dir/best.pt holds the epoch with the lowest validation loss and its weights."""
    expect_checkpoint(early_stop_run, "best", lowest_epochs(early_stop_run.losses),
                      hint="write best.pt only in an epoch that improved on the best; it must not be overwritten by "
                           "later epochs")


@points(1, task="fit")
def test_last_pt_holds_the_last_epoch_and_its_weights(early_stop_run):
    """When fit returns, checkpoint_dir/last.pt holds the last epoch run and the weights it ended with."""
    expect_checkpoint(early_stop_run, "last", [len(early_stop_run.losses)],
                      hint="write last.pt at the end of every epoch, with the weights of that epoch (before the best "
                           "ones are put back)")


RESUME_HINT = ("with resume=True, load last.pt with load_checkpoint(path, model=..., optimizer=..., "
               "early_stopping=...), restore the shuffler's state and the history from the extras you saved, and go "
               "on from the next epoch; call torch.manual_seed(seed) before loading, never after (loading restores "
               "torch's RNG); and end with the best weights like any run " + FIT_NOTE)


def resumed(run):
    """What the resumed call of an interrupted run returned, checked to be there."""
    resumed = run.got.resumed
    expect(resumed.error is None, f"fit(..., resume=True) raised {describe(resumed.error)}", hint=RESUME_HINT)
    expect(is_plain_dict(resumed.result), "the resumed fit did not return a dict")
    return resumed


def expect_same_history(got, want, what, hint=None):
    """Two lists of per-epoch values agree exactly; the first epoch that differs is named."""
    expect(isinstance(got, list), f"{what} is not a list", hint=hint)
    for epoch, (mine, theirs) in enumerate(zip(got, want), start=1):
        expect(mine == theirs, f"{what} first differs at epoch {epoch}", hint=hint)
    expect(len(got) == len(want), f"{what} has {len(got)} entries instead of {len(want)}", hint=hint)


@points(1, task="fit")
def test_resumed_run_ends_with_the_uninterrupted_runs_weights(max_epochs_run):
    """A run interrupted in epoch 11 and resumed from last.pt by a new process ends with the weights of the
    uninterrupted run, bitwise."""
    final = resumed(max_epochs_run).final
    for name, value in max_epochs_run.got.final.items():
        expect_equal(final[name], value, f"{name} at the end of the resumed run, against the uninterrupted run's",
                     hint=RESUME_HINT)


@points(2, task="fit")
def test_resumed_run_returns_the_uninterrupted_runs_history(max_epochs_run):
    """A resumed run returns the uninterrupted run's train_loss and val_loss, bitwise: the epochs before the
    interruption as saved, and the epochs after it trained exactly as they would have been."""
    result = resumed(max_epochs_run).result
    for key in ("train_loss", "val_loss"):
        expect_same_history(result.get(key), max_epochs_run.got.result[key],
                            f"result['{key}'] of the resumed run, against the uninterrupted run's,", hint=RESUME_HINT)


@points(1, task="fit")
def test_resumed_run_reports_the_uninterrupted_runs_best_and_stop(max_epochs_run):
    """A resumed run returns the same best_epoch, stopped_epoch and best_val_loss as the uninterrupted run."""
    result = resumed(max_epochs_run).result
    for key in ("best_epoch", "stopped_epoch", "best_val_loss"):
        expect_equal(result.get(key), max_epochs_run.got.result[key],
                     f"result['{key}'] of the resumed run, against the uninterrupted run's",
                     hint="the early stopping's best so far comes back with load_checkpoint(..., early_stopping=...); "
                          + RESUME_HINT)


@points(2, task="fit")
def test_resume_continues_after_the_last_checkpoint(max_epochs_run):
    """fit(..., resume=True) trains only the epochs after the one saved in last.pt, not the whole run again."""
    resumed = max_epochs_run.got.resumed
    expect(resumed.error is None, f"fit(..., resume=True) raised {describe(resumed.error)}", hint=RESUME_HINT)
    want = max_epochs_run.setup["max_epochs"] - resumed.epochs_before
    expect(resumed.epochs_after == want, f"after an interruption at epoch {resumed.epochs_before + 1}, the resumed "
           f"call trained {resumed.epochs_after} epochs instead of {want}",
           hint="with resume=True, load last.pt and go on from the epoch after the one it holds")


@points(1, task="fit")
def test_resume_without_a_checkpoint_raises_file_not_found_error(student):
    """fit(..., resume=True) on a checkpoint_dir without last.pt raises FileNotFoundError instead of starting afresh."""
    got = student.run("fit_resume_without_checkpoint", fit_setup(MAX_EPOCHS_SEED, SEEDING))
    hint = ("with resume=True, call load_checkpoint on checkpoint_dir/last.pt and let its FileNotFoundError "
            "propagate: never start afresh in silence " + FIT_NOTE)
    expect(got.error is not None, f"fit(..., resume=True) with no last.pt returned after training {got.epochs} "
           "epochs", hint=hint)
    expect("FileNotFoundError" in got.error.mro, f"fit(..., resume=True) with no last.pt raised {describe(got.error)}",
           hint=hint)


SEEDING_HINT = ("a fresh run calls torch.manual_seed(seed) first (the dropout masks come from torch's global RNG), "
                "and shuffles with a generator seeded with seed, torch.Generator().manual_seed(seed) " + FIT_NOTE)


@points(1, task="fit")
def test_the_seed_alone_decides_the_run(seeding_runs):
    """Two fresh fits with the same seed are bitwise the same, whatever torch's global RNG held before."""
    same, other_rng, _ = seeding_runs
    expect(is_plain_dict(same.result) and is_plain_dict(other_rng.result), "fit should return a dict")
    expect(len(same.first_order) > 0, "fit trained on nothing in its first epoch",
           hint="this point is for a run that trains and is decided by its seed alone")
    for key in ("train_loss", "val_loss"):
        expect_same_history(other_rng.result.get(key), same.result.get(key), f"result['{key}'] of two fits with the "
                            "same seed, torch's global RNG in another state before the second,", hint=SEEDING_HINT)
    for name, value in same.final.items():
        expect_equal(other_rng.final[name], value, f"{name} after two fits with the same seed, torch's global RNG "
                     "in another state before the second,", hint=SEEDING_HINT)


@points(1, task="fit")
def test_another_seed_shuffles_differently(seeding_runs):
    """A fresh fit with another seed goes through the training set in another order."""
    same, _, other_seed = seeding_runs
    expect(len(same.first_order) > 0, "fit trained on nothing in its first epoch",
           hint="shuffle the training set in every epoch, with a generator seeded with seed")
    # Two random orders of the 200 samples coincide with probability 1 / 200!.
    expect(same.first_order != other_seed.first_order, "fits with two different seeds shuffled their first epoch "
           "the same way", hint="seed the shuffling with seed: torch.Generator().manual_seed(seed)")
