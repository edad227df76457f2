"""Hidden graders for the early_stopping exercise.

EarlyStopping is graded on metric sequences worked out by hand (the lecture's table among them)
and on stoppers whose attributes the scenario sets. save_checkpoint and load_checkpoint are graded
apart, each against a correct partner (the stub fixes the checkpoint's six keys): the file that
save_checkpoint writes is read with torch.load and compared with what it should hold, and
load_checkpoint reads files that a correct save_checkpoint wrote. `fit` runs with a correct
EarlyStopping, save_checkpoint and load_checkpoint in place of the student's
(autograder/scenarios/early_stopping.py), so that only fit's own code decides its tests. It trains
the grader's probe, which records its training batches and its weights at every validation: here,
in the trusted process, torch.optim.Adam replays those batches and PyTorch computes every epoch's
training and validation loss, and the stop, the best epoch and the final weights are checked
against them. A resumed run is checked bitwise against the uninterrupted one.
tests/test_early_stopping_effect.py checks that the reference shows what these tests need on the
grader's seeds and on many others.

Chance and rounding. Nothing is drawn at random here; what a correct submission may do its own
way is the order of its shuffles and the rounding of its losses. Shuffles: every check that two
orders differ would fail a correct submission only if two independent random permutations of the
200 training samples coincided, probability 1 / 200! < 1e-374 per pair (at most 30 pairs in a test).
The stop is checked against what the early stopping itself said on the losses the submission fed
it, so a batch order that stops later (or never, within max_epochs) is no failure. Rounding: a
correct validation loss differs from PyTorch's by float32 rounding of a mean over 300 samples,
about 1e-7 relative; every comparison of losses allows 1e-5 relative (the training loss 1e-4,
after dozens of replayed steps), and a "lowest" epoch counts every epoch within 1e-6 relative of
the minimum. In the stopper's metric sequences every metric is at least 0.01 away from
best - min_delta (best + min_delta in mode "max"), or equal to the best with min_delta 0 (a tie,
which float arithmetic decides exactly), so no comparison rests on float rounding.
"""

import math
import weakref

import torch
import torch.nn.functional as F
from torch import nn

from coursekit.datasets import noisy_digits
from coursekit.grading.api import (
    GradingFailure,
    exercise,
    expect,
    expect_close,
    expect_equal,
    expect_number,
    is_number,
    one_thread,
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


@points(3, task="save_checkpoint")
def test_a_write_that_fails_half_way_leaves_the_previous_checkpoint(student):
    """When torch.save fails half way through a write, the file saved before is still there, byte for byte, and
    the error propagates."""
    got = student.run("interrupted_save")
    expect(got.first is not None, "save_checkpoint wrote no file at path", hint="write the checkpoint with torch.save")
    expect(got.after is not None, "after the failed write there is no file at path any more", hint=SAVE_HINT)
    expect(got.after == got.first, "after the failed write the file at path is no longer the checkpoint saved "
           "before it", hint=SAVE_HINT)
    expect(got.failure is not None, "save_checkpoint did not fail although torch.save did",
           hint="call torch.save (as torch.save) and let its errors propagate")
    expect(got.failure.type == "_SimulatedCrash", f"torch.save's error came out of save_checkpoint as "
           f"{describe(got.failure)}", hint="let the error propagate as it is: remove the temporary file, then raise")


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

@points(2, task="load_checkpoint")
def test_load_restores_the_models_weights_and_the_optimizers_state(student):
    """Loading a checkpoint into a fresh model and Adam restores the weights, Adam's state and its settings."""
    got = student.run("load_model_and_optimizer")
    for name, value in got.saved.items():
        expect_equal(got.loaded[name], value, f"{name} after load_checkpoint, against the saved model's",
                     hint='restore checkpoint["model"] with model.load_state_dict')
    expect(math.isclose(got.fresh_lr, 0.01), "the fresh optimizer kept its own learning rate instead of the saved one",
           hint='restore checkpoint["optimizer"] with optimizer.load_state_dict when an optimizer is given')
    for name, value in got.stepped.items():
        expect_equal(got.fresh_stepped[name], value, f"{name} after one more Adam step on both models",
                     hint="Adam's running averages live in optimizer.state_dict(): restore it with "
                          "optimizer.load_state_dict, or the next step differs")


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

# Noisy digits (20% wrong training labels), an MLP 64-32-10 and Adam at a high rate: the validation
# loss falls for a few epochs and then rises as the network learns the wrong labels.
# tests/test_early_stopping_effect.py checks the reference on these seeds, and on 40 other batch
# orders and data sets, that the early stop comes well before max_epochs.
EARLY_STOP_SEED = 0            # patience 3: stops well before max_epochs
MAX_EPOCHS_SEED = 3            # patience above max_epochs, with dropout: runs to max_epochs, best before it
FIT_OPTIONS = {"lr": 0.05, "batch_size": 40}
EARLY_STOP = {"p": 0.0, "max_epochs": 30, "patience": 3, "batch_size": 48}   # 200 = 4 * 48 + 8: a short last batch
MAX_EPOCHS = {"p": 0.1, "max_epochs": 12, "patience": 50}
SEEDING = {**MAX_EPOCHS, "max_epochs": 2}
INTERRUPT_AFTER_EPOCHS = 10    # the copy of the checkpoints is taken as epoch 11 starts
VALIDATION_SIZE = 300
CALLER_RNG_SEED = 777          # torch's global RNG before fit is called: fit seeds it itself

FIT_NOTE = ("(fit is graded with a correct EarlyStopping, save_checkpoint and load_checkpoint put in place of "
            "yours, so only fit's own code decides this test)")


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
        got = student.run("fit_run", setup, caller_rng_seed=CALLER_RNG_SEED)
    else:
        setup = fit_setup(MAX_EPOCHS_SEED, MAX_EPOCHS)
        got = student.run("fit_run", setup, INTERRUPT_AFTER_EPOCHS * batches_per_epoch(setup),
                          probe_state(MAX_EPOCHS_SEED + 100), 12345, caller_rng_seed=CALLER_RNG_SEED)
    result = got.result
    expect(is_plain_dict(result), "fit should return a dict",
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


def replay(run):
    """The run's recorded batches replayed with torch.optim.Adam on the grader's network (no dropout:
    the early-stop run has p = 0): the weights after each epoch, and each epoch's mean batch loss
    per sample, weighted by batch size."""
    if "replay" not in run:
        X, y = run["setup"]["train"]
        states, train_losses = [], []
        with one_thread():
            net = Net(run["setup"]["state"])
            optimizer = torch.optim.Adam(net.parameters(), lr=run["setup"]["lr"])
            for batches in run["got"].epochs:
                total = 0.0
                for batch in batches:
                    batch = torch.tensor(batch)
                    loss = F.cross_entropy(net(X[batch]), y[batch])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    total += loss.item() * len(batch)
                states.append({name: value.clone() for name, value in net.state_dict().items()})
                train_losses.append(total / len(y))
        run["replay"] = {"states": states, "train_losses": train_losses}
    return run["replay"]


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
    # A random order is the stored one, or equals the epoch before, with probability 1 / 200! each.
    expect(orders[0] != list(range(count)), "the first epoch went through the samples in their stored order",
           hint="shuffle: a new random permutation every epoch")
    expect(all(a != b for a, b in zip(orders, orders[1:])), "two consecutive epochs used the same order",
           hint="draw a new permutation at the start of every epoch")
    expect(len(got.snapshots) == len(got.epochs), "the model was not validated once after every epoch's training",
           hint="validate after the training of each epoch, before the next one starts")
    for epoch, (state, snapshot) in enumerate(zip(replay(run)["states"], got.snapshots), start=1):
        for name, value in state.items():
            expect_close(snapshot[name], value, f"{name} after epoch {epoch}, against the same batches replayed "
                         "with torch.optim.Adam",
                         hint="per batch: the mean F.cross_entropy, optimizer.zero_grad(), loss.backward(), "
                              "optimizer.step(); nothing else changes the weights")


@points(1, task="fit")
def test_train_loss_is_each_epochs_mean_loss_per_sample(student):
    """train_loss holds each epoch's batch losses, as they came, averaged with the batch sizes as weights."""
    run = graded_run(student, "early stop")
    reported, want = run["got"].result["train_loss"], replay(run)["train_losses"]
    hint = ("add loss.item() * len(batch) for every batch as it is trained and divide by the number of samples: the "
            "last batch is smaller, so a plain mean of the batch losses is off; no extra pass over the training set "
            "(if the test of the optimizer steps fails too, fix that first)")
    expect(isinstance(reported, list) and len(reported) == len(want),
           f"train_loss has {len(reported) if isinstance(reported, list) else 'no'} entries for {len(want)} epochs",
           hint="append one training loss per epoch")
    for epoch, (value, loss) in enumerate(zip(reported, want), start=1):
        expect(is_number(value) and math.isclose(value, loss, rel_tol=1e-4, abs_tol=1e-6),
               f"train_loss of epoch {epoch} is not the epoch's mean batch loss per sample (off by "
               f"{abs(value - loss) if is_number(value) else 'a non-number'})", hint=hint)


@points(3, task="fit")
def test_validation_loss_is_measured_in_eval_mode_every_epoch(student):
    """val_loss holds each epoch's mean cross-entropy on the whole validation set, measured in eval mode under
    torch.no_grad()."""
    for name in ("early stop", "max epochs"):
        run = graded_run(student, name)
        got = run["got"]
        expect(got.val_modes == [False], "the validation set went through the model in training mode",
               hint="model.eval() before validating: in training mode dropout is on, and each call gives another loss")
        expect(got.val_grad == [False], "the validation set went through the model with gradients enabled",
               hint="validate under torch.no_grad(): nothing is trained on it, and the graph would only cost memory")
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


@points(2, task="fit")
def test_stops_in_the_epoch_the_early_stopping_says_stop(student):
    """fit feeds the early stopping each epoch's validation loss once, and stops in the epoch it says stop."""
    run = graded_run(student, "early stop")
    got, losses, max_epochs = run["got"], run["losses"], run["setup"]["max_epochs"]
    ran = len(losses)
    expect(len(got.fed) == ran, f"fit called the early stopping {len(got.fed)} times in {ran} epochs",
           hint="call early_stopping(val_loss) once per epoch, after validating " + FIT_NOTE)
    for epoch, (fed, want) in enumerate(zip(got.fed, losses), start=1):
        expect(math.isclose(fed["metric"], want, rel_tol=1e-5, abs_tol=1e-6),
               f"in epoch {epoch} the early stopping was fed something other than that epoch's validation loss",
               hint="feed it val_loss, measured after the epoch's training")
    said = [epoch for epoch, fed in enumerate(got.fed, start=1) if fed["said_stop"]]
    expect(not said or ran <= said[0], f"the early stopping said stop at epoch {said[0] if said else 0}, but fit went "
           f"on to epoch {ran}", hint="leave the loop in the epoch the early stopping returns True " + FIT_NOTE)
    expect(ran == (said[0] if said else max_epochs), f"fit stopped after epoch {ran}, before the early stopping said "
           "stop and before max_epochs", hint="run until the early stopping says stop or max_epochs is reached")
    result = got.result
    expect(result["stopped_epoch"] == ran, f"fit trained {ran} epochs but reports stopped_epoch "
           f"{result['stopped_epoch']}", hint="stopped_epoch is the number of the last epoch run")
    expect(result["best_epoch"] == got.stopper["best_epoch"], f"best_epoch is {result['best_epoch']}, not the early "
           f"stopping's best_epoch, {got.stopper['best_epoch']}", hint="return early_stopping.best_epoch")


def expect_best_weights(run, when):
    got, losses = run["got"], run["losses"]
    best = lowest_epochs(losses)
    hint = ("put the best epoch's weights back when the loop ends (load best.pt); a copy kept in memory must be "
            "a real copy (clone the tensors): model.state_dict() holds the live weights; and the early stopping "
            "must be fed each epoch's validation loss, so that its best is the lowest")
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
def test_model_ends_with_the_best_epochs_weights(student):
    """When fit returns, the model holds the weights of the epoch with the lowest validation loss, and
    best_val_loss is that loss."""
    run = graded_run(student, "early stop")
    expect_best_weights(run, "when fit returns")


@points(2, task="fit")
def test_best_pt_holds_the_best_epoch_and_last_pt_the_last(student):
    """fit creates checkpoint_dir; best.pt holds the best epoch and its weights, last.pt the last epoch and its
    weights."""
    run = graded_run(student, "early stop")
    got = run["got"]
    best = lowest_epochs(run["losses"])
    for name, file, epochs in (("best", "best.pt", best), ("last", "last.pt", [len(run["losses"])])):
        read = got[name]
        expect(read.error is None, f"{file} could not be read back: {describe(read.error)}",
               hint="fit creates checkpoint_dir if it is missing, writes checkpoint_dir/last.pt with save_checkpoint "
                    "every epoch and checkpoint_dir/best.pt on every improvement; extras are tensors and plain values")
        expect(read.epoch in epochs, f"{file} holds epoch {read.epoch}, not epoch {epochs[0]}",
               hint="write best.pt only in an epoch that improved on the best; it must not be overwritten by later "
                    "epochs" if name == "best" else "write last.pt at the end of every epoch")
        expect(all(torch.equal(read.state_dict[key], got.snapshots[read.epoch - 1][key]) for key in read.state_dict),
               f"the weights in {file} are not those the model had after epoch {read.epoch}",
               hint="save the model's state at the end of the epoch, after its training")


@points(2, task="fit")
def test_best_weights_are_restored_when_max_epochs_is_reached(student):
    """When max_epochs comes before the early stop, the model still ends with the best epoch's weights."""
    run = graded_run(student, "max epochs")
    max_epochs = run["setup"]["max_epochs"]
    expect(run["got"].result["stopped_epoch"] == max_epochs == len(run["losses"]),
           f"with patience above max_epochs, fit should run all {max_epochs} epochs",
           hint="the loop runs until the early stopping says stop or max_epochs is reached, whichever comes first")
    expect_best_weights(run, "at max_epochs")


RESUME_HINT = ("with resume=True, load last.pt with load_checkpoint(path, model=..., optimizer=..., "
               "early_stopping=...), restore the shuffler's state and the history from the extras you saved, and go "
               "on from the next epoch; call torch.manual_seed(seed) before loading, never after (loading restores "
               "torch's RNG); and end with the best weights like any run " + FIT_NOTE)


@points(4, task="fit")
def test_resumed_run_equals_an_uninterrupted_one(student):
    """A run interrupted in epoch 11 and resumed from last.pt by a new process ends bitwise equal to the
    uninterrupted run."""
    run = graded_run(student, "max epochs")
    resumed = run["got"].resumed
    expect(resumed.error is None, f"fit(..., resume=True) raised {describe(resumed.error)}", hint=RESUME_HINT)
    expect(is_plain_dict(resumed.result), "the resumed fit did not return a dict")
    for key in ("train_loss", "val_loss"):
        expect_same_history(resumed.result.get(key), run["got"].result[key],
                            f"result['{key}'] of the resumed run, against the uninterrupted run's,", hint=RESUME_HINT)
    for key in ("best_epoch", "stopped_epoch", "best_val_loss"):
        expect_equal(resumed.result.get(key), run["got"].result[key],
                     f"result['{key}'] of the resumed run, against the uninterrupted run's", hint=RESUME_HINT)
    for name, value in run["got"].final.items():
        expect_equal(resumed.final[name], value, f"{name} at the end of the resumed run, against the uninterrupted "
                     "run's", hint=RESUME_HINT)


def expect_same_history(got, want, what, hint=None):
    """Two lists of per-epoch values agree exactly; the first epoch that differs is named."""
    expect(isinstance(got, list), f"{what} is not a list", hint=hint)
    for epoch, (mine, theirs) in enumerate(zip(got, want), start=1):
        expect(mine == theirs, f"{what} first differs at epoch {epoch}", hint=hint)
    expect(len(got) == len(want), f"{what} has {len(got)} entries instead of {len(want)}", hint=hint)


@points(2, task="fit")
def test_resume_continues_after_the_last_checkpoint(student):
    """fit(..., resume=True) trains only the epochs after the one saved in last.pt, not the whole run again."""
    run = graded_run(student, "max epochs")
    resumed = run["got"].resumed
    expect(resumed.error is None, f"fit(..., resume=True) raised {describe(resumed.error)}", hint=RESUME_HINT)
    want = run["setup"]["max_epochs"] - resumed.epochs_before
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


@points(2, task="fit")
def test_the_seed_alone_decides_the_run(student):
    """Two fresh fits with the same seed are bitwise the same whatever torch's global RNG held before; another
    seed shuffles differently."""
    setup = fit_setup(MAX_EPOCHS_SEED, SEEDING)
    got = student.run("fit_seeding", [[setup, 11], [setup, 22], [{**setup, "seed": setup["seed"] + 1}, 11]])
    same, other_rng, other_seed = got
    hint = ("a fresh run calls torch.manual_seed(seed) first (the dropout masks come from torch's global RNG), and "
            "shuffles with a generator seeded with seed, torch.Generator().manual_seed(seed) " + FIT_NOTE)
    expect(is_plain_dict(same.result) and is_plain_dict(other_rng.result), "fit should return a dict")
    for key in ("train_loss", "val_loss"):
        expect_same_history(other_rng.result.get(key), same.result.get(key), f"result['{key}'] of two fits with the "
                            "same seed, torch's global RNG in another state before the second,", hint=hint)
    for name, value in same.final.items():
        expect_equal(other_rng.final[name], value, f"{name} after two fits with the same seed, torch's global RNG "
                     "in another state before the second,", hint=hint)
    # Two random orders of the 200 samples coincide with probability 1 / 200!.
    expect(same.first_order != other_seed.first_order, "fits with two different seeds shuffled their first epoch "
           "the same way", hint="seed the shuffling with seed: torch.Generator().manual_seed(seed)")
