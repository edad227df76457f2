"""Scenarios for the early_stopping graders. They run in the worker, beside the student's module.

Each takes the student's module first, then plain data and tensors from the grader; it calls the
student's code and returns plain data and tensors. Checkpoints are written to folders made here,
in the worker's scratch folder (its working directory), and read back here with torch.load: the
grader never sees the worker's files.

One task, one grade: each scenario calls the student's code of one task and drives it with
known-good code for the others, the stub's rules written out here (`_GoodStopper`,
`_good_save_checkpoint`, `_good_load_checkpoint`). save_checkpoint is handed a correct stopper and
its file is read with torch.load; load_checkpoint reads files that a correct save_checkpoint wrote
(the stub fixes the checkpoint's layout), into a correct stopper; fit is handed a correct stopper
and runs with the correct save_checkpoint and load_checkpoint put in place of the student's for
the time of the call (`_known_good`: fit looks them up in its module when it calls them). So a
mistake in one task never costs the points of another.

The models handed to `fit` are the grader's own `_Probe`: an MLP 64-32-10 that ignores input
column 0, where the grader puts a sample's index (0, 1, ... for training samples; -1, -2, ... for
validation samples). The probe records which samples each training batch held, in which mode it
ran, and a copy of its weights at the start of each epoch's validation, so the trusted grader can
replay the training with torch.optim.Adam and compute every validation loss itself
(autograder/early_stopping_oracle.py). To interrupt a run, the probe copies the checkpoint folder
as a given training batch starts: the copy is what an interruption at that moment leaves on disk,
and the run is resumed from it as a new process would.

Why one long file: the worker is sent exactly one scenarios file per exercise (WorkerSpec's
scenarios_file, copied into the sandbox's scratch folder beside the student's module), and a
scenario can import nothing else of the grader's. So the file is in sections, in the order of the
tasks: known-good code, EarlyStopping, the checkpoints' shared pieces, save_checkpoint,
load_checkpoint, fit.
"""

import contextlib
import datetime
import hashlib
import io
import math
import os
import re
import shutil
import tempfile
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F
from _kit_worker.toolkit import (  # the scenarios' toolkit (coursekit/worker/toolkit.py)
    known_good,
    manual_seed,
    substituted,
)
from torch import nn

STUDENT_FILE = "early_stopping.py"


def _folder():
    """A new, empty folder in the worker's scratch folder."""
    return tempfile.mkdtemp(prefix="run-", dir=os.getcwd())


def _message(error):
    """The useful part of an error's message, without terminal colours: for a file torch.load's
    weights_only refuses, what it refused (its long advice comes first)."""
    message = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    if "WeightsUnpickler error:" in message:
        message = "weights_only refused it: " + message.split("WeightsUnpickler error:", 1)[1].strip()
    return message[:200]


def _error(error):
    """An exception as plain data: its type, its message, and the line of the student's file."""
    where = ""
    for frame in traceback.extract_tb(error.__traceback__):
        if os.path.basename(frame.filename) == STUDENT_FILE:
            where = f"{STUDENT_FILE}, line {frame.lineno}, in {frame.name}"
    return {"type": type(error).__name__, "mro": [cls.__name__ for cls in type(error).__mro__],
            "message": _message(error), "where": where}


def _attempt(call, *args, **kwargs):
    """Call student code that may raise: (what it returned, None), or (None, the exception).

    NotImplementedError propagates, so that a task left unwritten fails its tests as such, not as
    a wrong answer.
    """
    try:
        return call(*args, **kwargs), None
    except NotImplementedError:
        raise
    except Exception as error:
        return None, error


# --- known-good code for the tasks a scenario does not grade ------------------------------------

SETTINGS_AND_PROGRESS = ("patience", "min_delta", "mode", "best", "best_epoch", "counter", "early_stop", "epoch")


@known_good("EarlyStopping")
class _GoodStopper:
    """A correct EarlyStopping (the stub's rule); it also records what it was fed and what it said."""

    def __init__(self, patience=5, min_delta=0.0, mode="min"):
        self.patience, self.min_delta, self.mode = patience, min_delta, mode
        self.best, self.best_epoch, self.counter, self.early_stop, self.epoch = None, None, 0, False, 0
        self.fed = []

    def is_improvement(self, metric):
        if math.isnan(metric):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return metric < self.best - self.min_delta
        return metric > self.best + self.min_delta

    def __call__(self, metric):
        metric = float(metric)
        self.epoch += 1
        if self.is_improvement(metric):
            self.best, self.best_epoch, self.counter = metric, self.epoch, 0
        else:
            self.counter += 1
            if self.counter >= self.patience:
                self.early_stop = True
        self.fed.append({"metric": metric, "said_stop": self.early_stop})
        return self.early_stop

    def state_dict(self):
        return {name: getattr(self, name) for name in SETTINGS_AND_PROGRESS}

    def load_state_dict(self, state):
        for name in SETTINGS_AND_PROGRESS:
            setattr(self, name, state[name])


@known_good("save_checkpoint")
def _good_save_checkpoint(path, *, model, optimizer, epoch, early_stopping=None, **extra):
    """A correct save_checkpoint: the stub's six keys, written atomically."""
    path = Path(path)
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                  "early_stopping": None if early_stopping is None else early_stopping.state_dict(),
                  "rng_state": torch.get_rng_state(), "extra": extra}
    temporary = path.with_name(path.name + ".tmp")
    try:
        torch.save(checkpoint, temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@known_good("load_checkpoint")
def _good_load_checkpoint(path, *, model, optimizer=None, early_stopping=None):
    """A correct load_checkpoint, for files of the stub's layout."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    if optimizer is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
    if early_stopping is not None and checkpoint["early_stopping"] is not None:
        early_stopping.load_state_dict(checkpoint["early_stopping"])
    torch.set_rng_state(checkpoint["rng_state"])
    return {"epoch": checkpoint["epoch"], **checkpoint["extra"]}


# --- EarlyStopping ------------------------------------------------------------------------------

PROGRESS = ("best", "best_epoch", "counter", "early_stop", "epoch")


def _attributes(stopper, names=PROGRESS):
    return {name: getattr(stopper, name, "missing") for name in names}


def _feed(stopper, metrics):
    """Call the stopper once per metric; what it returned and its attributes after each call."""
    calls = []
    for metric in metrics:
        returned = stopper(metric)
        calls.append({"returned": returned, **_attributes(stopper)})
    return calls


def stopper_run(student, metrics, options, as_tensors=False):
    """A new EarlyStopping(**options), its attributes, then one call per metric (as 0-dim float64
    tensors with `as_tensors`)."""
    stopper = student.EarlyStopping(**options)
    initial = _attributes(stopper)
    if as_tensors:
        metrics = [torch.tensor(metric, dtype=torch.float64) for metric in metrics]
    return {"initial": initial, "calls": _feed(stopper, metrics)}


def stopper_is_improvement(student, cases):
    """For each case: a new EarlyStopping(**options) whose attributes are then set to `state`,
    asked is_improvement(metric) for each metric; its answers and its attributes before and after."""
    results = []
    for case in cases:
        stopper = student.EarlyStopping(**case["options"])
        for name, value in case["state"].items():
            setattr(stopper, name, value)
        before = _attributes(stopper)
        answers = [stopper.is_improvement(metric) for metric in case["metrics"]]
        results.append({"answers": answers, "before": before, "after": _attributes(stopper)})
    return results


def _not_plain(value):
    """The type names in `value` that are not plain data (None, bool, int, float, str, and lists,
    tuples and dicts of them)."""
    if value is None or type(value) in (bool, int, float, str):
        return set()
    if type(value) in (list, tuple):
        return set().union(*map(_not_plain, value))
    if type(value) is dict:
        return set().union(*map(_not_plain, value.keys()), *map(_not_plain, value.values()))
    return {type(value).__name__}


def _feed_or_error(stopper, metrics):
    try:
        return {"calls": _feed(stopper, metrics), "error": None}
    except Exception as error:  # NotImplementedError too: the continuation is compared only when both run
        return {"calls": None, "error": _error(error)}


def stopper_state_dict(student, options, progress, later, metrics):
    """state_dict() of a stopper whose settings are `options` and whose attributes are set to
    `progress`, and the stoppers it makes.

    Only the attributes that a new stopper of the student's has are set and compared (`present`):
    one that is missing is graded by the tests of __init__ and __call__, not here.

    - `restored`: a new EarlyStopping() (default settings) loaded with the dict, at once; it and a
      twin of the original (built the same way) then go on with `metrics`;
    - `snapshot`: a new EarlyStopping() loaded with the same dict after the original's attributes
      were set to `later` (a stopper that has gone on);
    - `from_file`: a new EarlyStopping() loaded with the dict written by torch.save and read back
      with torch.load(weights_only=True).
    """
    present = [name for name in SETTINGS_AND_PROGRESS if hasattr(student.EarlyStopping(**options), name)]

    def build():
        stopper = student.EarlyStopping(**options)
        for name, value in progress.items():
            if name in present:
                setattr(stopper, name, value)
        return stopper

    original = build()
    state = original.state_dict()
    report = {"present": present, "state_type": type(state).__name__, "not_plain": sorted(_not_plain(state))}
    buffer = io.BytesIO()
    try:
        torch.save(state, buffer)
        buffer.seek(0)
        from_file, report["weights_only_error"] = torch.load(buffer, weights_only=True), None
    except Exception as error:
        from_file, report["weights_only_error"] = None, _error(error)

    restored = student.EarlyStopping()
    report["load_returned"] = restored.load_state_dict(state)
    report["restored"] = _attributes(restored, SETTINGS_AND_PROGRESS)
    report["twin"] = _feed_or_error(build(), metrics)
    report["restored_continued"] = _feed_or_error(restored, metrics)

    for name, value in later.items():
        if name in present:
            setattr(original, name, value)
    snapshot = student.EarlyStopping()
    snapshot.load_state_dict(state)
    report["snapshot"] = _attributes(snapshot, SETTINGS_AND_PROGRESS)

    report["from_file"] = None
    if from_file is not None:
        loaded = student.EarlyStopping()
        loaded.load_state_dict(from_file)
        report["from_file"] = _attributes(loaded, SETTINGS_AND_PROGRESS)
    return report


# --- checkpoints: shared pieces -----------------------------------------------------------------

def _small_model(seed):
    manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))


def _adam_steps(model, optimizer, steps, seed):
    """A few optimizer steps on random data, so that the optimizer has state (Adam's moments)."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        X, y = torch.randn(16, 5, generator=generator), torch.randint(0, 3, (16,), generator=generator)
        optimizer.zero_grad()
        F.cross_entropy(model(X), y).backward()
        optimizer.step()


def _trained(seed):
    """A small model and its Adam after 3 steps."""
    model = _small_model(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    _adam_steps(model, optimizer, 3, seed=seed + 1)
    return model, optimizer


def _state(model):
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def _stopper_with_progress():
    """A correct stopper after three epochs: best 0.5 at epoch 2, counter 1."""
    stopper = _GoodStopper(patience=4, min_delta=0.01)
    for metric in (1.0, 0.5, 0.7):
        stopper(metric)
    return stopper


def _read(path):
    """What a checkpoint file holds, read in full (this worker runs the student's code anyway)."""
    try:
        return {"contents": torch.load(path, weights_only=False), "error": None}
    except Exception as error:
        return {"contents": None, "error": _error(error)}


def _digest(path):
    """A fingerprint of a file's bytes, or None when there is no file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if os.path.isfile(path) else None


# --- save_checkpoint ------------------------------------------------------------------------------

def save_contents(student, with_stopper, extras, as_path=False):
    """save_checkpoint of a model with Adam's state (and a correct stopper with progress, or None);
    what the file holds, read with torch.load, beside what it should hold."""
    model, optimizer = _trained(1)
    stopper = _stopper_with_progress() if with_stopper else None
    path = os.path.join(_folder(), "checkpoint.pt")
    manual_seed(31)
    torch.rand(5)
    rng_state = torch.get_rng_state()
    returned = student.save_checkpoint(Path(path) if as_path else path, model=model, optimizer=optimizer, epoch=4,
                                       early_stopping=stopper, **extras)
    return {"returned_type": type(returned).__name__, "file": _read(path), "model": _state(model),
            "optimizer": optimizer.state_dict(), "early_stopping": None if stopper is None else stopper.state_dict(),
            "rng_state": rng_state}


def save_weights_only(student):
    """save_checkpoint with Adam's state, a correct stopper and extras; the file read with weights_only=True."""
    model, optimizer = _trained(7)
    path = os.path.join(_folder(), "checkpoint.pt")
    student.save_checkpoint(path, model=model, optimizer=optimizer, epoch=2, early_stopping=_stopper_with_progress(),
                            history=[0.9, 0.8], generator_state=torch.Generator().manual_seed(9).get_state())
    if not os.path.isfile(path):
        return {"written": False}
    try:
        contents = torch.load(path, weights_only=True)
    except Exception as error:
        return {"written": True, "error": _error(error)}
    return {"written": True, "error": None, "model": _state(model),
            "model_read": contents.get("model") if isinstance(contents, dict) else None}


class _SimulatedCrash(OSError):
    """What the grader's torch.save raises after writing half of the bytes."""


def _where(f, folder, path):
    """Where torch.save was asked to write: 'the checkpoint itself', 'beside it' (a file in the
    checkpoint's folder, named), 'elsewhere', or 'memory' (an object with no file behind it)."""
    folder, path = os.path.realpath(folder), os.path.realpath(path)
    if isinstance(f, (str, bytes, os.PathLike)):
        target = os.path.realpath(os.fsdecode(f))
        if target == path:
            return {"place": "the checkpoint itself"}
        if os.path.dirname(target) == folder:
            return {"place": "beside it", "name": os.path.basename(target)}
        return {"place": "elsewhere"}
    try:
        status = os.fstat(f.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return {"place": "memory"}
    for name in os.listdir(folder):
        entry = os.stat(os.path.join(folder, name))
        if (entry.st_dev, entry.st_ino) == (status.st_dev, status.st_ino):
            if os.path.join(folder, name) == path:
                return {"place": "the checkpoint itself"}
            return {"place": "beside it", "name": name}
    return {"place": "elsewhere"}


@contextlib.contextmanager
def _torch_save_replaced(replacement):
    real = torch.save, torch.serialization.save
    torch.save = torch.serialization.save = replacement
    try:
        yield
    finally:
        torch.save, torch.serialization.save = real


def _save_that_fails(student, path, crash, targets, **save_options):
    """save_checkpoint with a torch.save that writes the first half of the bytes to wherever it
    was asked to write (a path or an open file), then raises `crash`, as a full disk, a killed
    process or Ctrl-C would leave things. Returns the error that came out, or None."""
    real_save = torch.save

    def save_half_then_fail(obj, f, *args, **kwargs):
        targets.append(_where(f, os.path.dirname(path), path))
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        half = buffer.getvalue()[:len(buffer.getvalue()) // 2]
        if isinstance(f, (str, bytes, os.PathLike)):
            with open(f, "wb") as file:
                file.write(half)
        else:
            f.write(half)
            f.flush()
        raise crash("simulated crash: the disk filled up half way through the write")

    with _torch_save_replaced(save_half_then_fail):
        try:
            student.save_checkpoint(path, **save_options)
        except NotImplementedError:
            raise
        except BaseException as error:  # KeyboardInterrupt too: it is one of the crashes simulated
            return _error(error)
    return None


def interrupted_save(student):
    """Save a checkpoint, then save another with a torch.save that fails half way: whether the
    file at the path is still, byte for byte, the first checkpoint, and what the failure raised."""
    folder = _folder()
    path = Path(folder) / "last.pt"
    model = _small_model(10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    student.save_checkpoint(path, model=model, optimizer=optimizer, epoch=1, early_stopping=_stopper_with_progress(),
                            note="first")
    first = _digest(path)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)
    failure = _save_that_fails(student, path, _SimulatedCrash, [], model=model, optimizer=optimizer, epoch=2,
                               early_stopping=_stopper_with_progress(), note="second")
    return {"first": first, "after": _digest(path), "failure": failure}


def save_leftovers(student):
    """Where save_checkpoint's torch.save writes, and which of those files are left afterwards:
    after a save that succeeds, one that fails with an OSError and one interrupted by Ctrl-C."""
    folder = _folder()
    path = Path(folder) / "last.pt"
    model = _small_model(14)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    real_save = torch.save
    report = {}
    for case, crash in (("success", None), ("error", _SimulatedCrash), ("interrupt", KeyboardInterrupt)):
        targets = []
        if crash is None:
            def recording_save(obj, f, *args, targets=targets, **kwargs):
                targets.append(_where(f, folder, path))
                return real_save(obj, f, *args, **kwargs)

            with _torch_save_replaced(recording_save):
                student.save_checkpoint(path, model=model, optimizer=optimizer, epoch=1,
                                        early_stopping=_stopper_with_progress())
            failure, report["written"] = None, os.path.isfile(path)
        else:
            failure = _save_that_fails(student, path, crash, targets, model=model, optimizer=optimizer, epoch=2,
                                       early_stopping=_stopper_with_progress())
        temporary = sorted({target["name"] for target in targets if target["place"] == "beside it"})
        report[case] = {"targets": sorted({target["place"] for target in targets}), "failure": failure,
                        "left": [name for name in temporary if os.path.exists(os.path.join(folder, name))]}
    return report


# --- load_checkpoint ----------------------------------------------------------------------------

def _good_file(name="checkpoint.pt", **save_options):
    path = os.path.join(_folder(), name)
    _good_save_checkpoint(path, **save_options)
    return path


def load_model_and_optimizer(student):
    """A correct checkpoint of a model with Adam's state, loaded (given as a pathlib.Path) into a
    fresh model and a fresh Adam with another learning rate; both pairs then take the same step."""
    model, optimizer = _trained(1)
    path = _good_file(model=model, optimizer=optimizer, epoch=7)
    saved = _state(model)
    fresh = _small_model(3)
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=0.5)
    student.load_checkpoint(Path(path), model=fresh, optimizer=fresh_optimizer)
    loaded, fresh_lr = _state(fresh), fresh_optimizer.param_groups[0]["lr"]
    _adam_steps(model, optimizer, 1, seed=4)
    _adam_steps(fresh, fresh_optimizer, 1, seed=4)
    return {"saved": saved, "loaded": loaded, "stepped": _state(model), "fresh_stepped": _state(fresh),
            "fresh_lr": fresh_lr}


def load_metadata(student, extras):
    """What load_checkpoint (model only) returns for a correct checkpoint of epoch 7 with `extras`,
    and for one of epoch 2 with none."""
    model, optimizer = _trained(2)
    returned = []
    for epoch, given in ((7, extras), (2, {})):
        path = _good_file(model=model, optimizer=optimizer, epoch=epoch, **given)
        returned.append(student.load_checkpoint(path, model=_small_model(5)))
    return {"with_extras": returned[0], "without": returned[1]}


def load_stopper(student):
    """A correct checkpoint with a correct stopper's state, loaded with a new correct stopper."""
    model, optimizer = _trained(3)
    stopper = _stopper_with_progress()
    path = _good_file(model=model, optimizer=optimizer, epoch=3, early_stopping=stopper)
    fresh = _GoodStopper()
    student.load_checkpoint(path, model=_small_model(4), early_stopping=fresh)
    return {"saved": stopper.state_dict(), "loaded": fresh.state_dict()}


def load_rng(student, rng_seed):
    """A correct checkpoint saved with torch's RNG at some state; draws after the save, and after
    load_checkpoint (model only: optimizer and early_stopping None) with the RNG elsewhere."""
    model = _small_model(5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    manual_seed(rng_seed)
    path = _good_file(model=model, optimizer=optimizer, epoch=1)
    after_save = torch.rand(6)
    manual_seed(rng_seed + 1)
    torch.rand(100)
    student.load_checkpoint(path, model=_small_model(6))
    return {"after_save": after_save, "after_load": torch.rand(6)}


class _RunsCode:
    """Unpickled in full, it creates a folder: proof that loading ran code named in the file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.makedirs, (self.marker,)


def _write_bad_checkpoint(kind, path):
    model, optimizer = _trained(12)
    whole = {"model": model, "optimizer": optimizer, "epoch": 3}
    if kind == "random bytes":
        with open(path, "wb") as file:
            file.write(bytes(range(256)) * 8)
    elif kind == "a truncated checkpoint":
        _good_save_checkpoint(path, **whole)
        with open(path, "rb") as file:
            data = file.read()
        with open(path, "wb") as file:
            file.write(data[:len(data) // 2])
    elif kind == "a tensor":
        torch.save(torch.arange(6.0), path)
    elif kind == "a model's state_dict":
        torch.save(model.state_dict(), path)
    elif kind == "a checkpoint with an object weights_only refuses":
        _good_save_checkpoint(path, **whole, saved_on=datetime.date(2027, 2, 1))
    elif kind == "a pickle that runs code":
        checkpoint = {"model": _RunsCode(path + ".ran"), "optimizer": optimizer.state_dict(), "epoch": 1,
                      "early_stopping": None, "rng_state": torch.get_rng_state(), "extra": {}}
        torch.save(checkpoint, path)
    elif kind != "missing":
        raise ValueError(f"unknown kind of file {kind!r}")


def load_bad_checkpoint(student, kind):
    """load_checkpoint on a missing, corrupt or foreign file: what it raised, and whether code ran."""
    path = os.path.join(_folder(), "broken.pt")
    _write_bad_checkpoint(kind, path)
    code_ran = os.path.exists(path + ".ran")
    returned, raised = _attempt(student.load_checkpoint, path, model=_small_model(13))
    error = None if raised is None else {**_error(raised), "names_the_file": "broken.pt" in str(raised)}
    return {"error": error, "returned_type": type(returned).__name__,
            "code_ran": code_ran or os.path.exists(path + ".ran")}


# --- fit ---------------------------------------------------------------------------------------

class _Probe(nn.Module):
    """An MLP 64-32-10 on input columns 1..64, with dropout p after the hidden layer; it records.

    Column 0 holds the sample's index: >= 0 for training samples, < 0 for validation samples.
    - `epochs`: the sample indices of every training batch (a forward with gradients enabled on
      training samples), grouped by epoch; a new epoch starts at the first training batch after
      a validation;
    - `train_modes`, `val_modes`: whether the probe was in training mode on those calls;
    - `val_grad`: whether gradients were enabled on the validation calls;
    - `snapshots`: a copy of the weights at each epoch's first validation call.
    With `copy_after` = n, the (n + 1)-th training batch first copies the checkpoint folder
    `copy_from` to `copy_to`: what an interruption at that moment would leave on disk.
    """

    def __init__(self, state, p=0.0, copy_after=None, copy_from=None, copy_to=None):
        super().__init__()
        self.hidden = nn.Linear(64, 32)
        self.drop = nn.Dropout(p)
        self.out = nn.Linear(32, 10)
        self.load_state_dict(state)
        self.copy_after, self.copy_from, self.copy_to = copy_after, copy_from, copy_to
        self.epochs_before_copy = None
        self.epochs, self.snapshots = [], []
        self.train_modes, self.val_modes, self.val_grad = set(), set(), set()
        self.batches_seen = 0
        self._training_epoch = False

    def forward(self, x):
        ids = x[:, 0]
        if bool((ids < 0).all()):
            self.val_modes.add(self.training)
            self.val_grad.add(torch.is_grad_enabled())
            if self._training_epoch or not self.snapshots:
                self.snapshots.append(_state(self))
                self._training_epoch = False
        elif torch.is_grad_enabled():
            if self.batches_seen == self.copy_after:
                shutil.copytree(self.copy_from, self.copy_to)
                self.epochs_before_copy = len(self.snapshots)
            if not self._training_epoch:
                self.epochs.append([])
                self._training_epoch = True
            self.train_modes.add(self.training)
            self.epochs[-1].append([int(i) for i in ids.round().long().tolist()])
            self.batches_seen += 1
        return self.out(self.drop(torch.relu(self.hidden(x[:, 1:]))))

    def record(self):
        return {"epochs": self.epochs, "snapshots": self.snapshots,
                "train_modes": sorted(self.train_modes), "val_modes": sorted(self.val_modes),
                "val_grad": sorted(self.val_grad)}


def _read_checkpoint(path):
    """A checkpoint that fit wrote (with the correct save_checkpoint): its epoch and weights."""
    if not os.path.exists(path):
        return {"error": {"type": "FileNotFoundError", "message": f"fit wrote no {os.path.basename(path)}",
                          "where": ""}}
    try:
        checkpoint = torch.load(path, weights_only=True)
    except Exception as error:  # an extra fit gave save_checkpoint that weights_only refuses
        return {"error": _error(error)}
    return {"error": None, "epoch": checkpoint["epoch"], "state_dict": checkpoint["model"]}


def _fit(student, probe, setup, folder, resume=False, stopper=None):
    """The student's fit on the probe, handed a correct stopper (a new one with the run's patience
    unless `stopper` is given), with the correct save_checkpoint and load_checkpoint in place of
    the student's."""
    if stopper is None:
        stopper = _GoodStopper(patience=setup["patience"])
    optimizer = torch.optim.Adam(probe.parameters(), lr=setup["lr"])
    with substituted(student, save_checkpoint=_good_save_checkpoint, load_checkpoint=_good_load_checkpoint):
        return student.fit(probe, optimizer, tuple(setup["train"]), tuple(setup["val"]),
                           max_epochs=setup["max_epochs"], early_stopping=stopper, checkpoint_dir=folder,
                           batch_size=setup["batch_size"], seed=setup["seed"], resume=resume)


def fit_run(student, setup, interrupt_after=None, resume_state=None, resume_rng_seed=0, caller_rng_seed=0):
    """One fit of a probe from setup["state"]: its result, final weights, records and checkpoints.

    `setup` holds state, p, lr, train, val, max_epochs, patience, batch_size and seed. torch's
    global RNG is seeded with `caller_rng_seed` before the call: fit seeds it itself. The
    checkpoint folder does not exist yet: fit creates it. `fed` is what the stopper was fed.

    With `interrupt_after` = n, the checkpoint folder is copied as it is when the (n + 1)-th
    training batch starts, and then the run is resumed from the copy as a new process would
    resume it: a new probe whose weights are `resume_state` (not the run's start), a new Adam, a
    new stopper with the same patience, torch's global RNG seeded with `resume_rng_seed`, and
    fit(..., resume=True). All it may rely on is the copied last.pt.
    """
    folder = os.path.join(_folder(), "checkpoints")
    copy = folder + "-interrupted"
    probe = _Probe(setup["state"], p=setup["p"], copy_after=interrupt_after, copy_from=folder, copy_to=copy)
    stopper = _GoodStopper(patience=setup["patience"])
    manual_seed(caller_rng_seed)
    result = _fit(student, probe, setup, folder, stopper=stopper)
    run = {"result": result, "final": _state(probe), **probe.record(), "fed": stopper.fed,
           "stopper": stopper.state_dict(),
           "best": _read_checkpoint(os.path.join(folder, "best.pt")),
           "last": _read_checkpoint(os.path.join(folder, "last.pt"))}
    if interrupt_after is not None:
        run["resumed"] = _resume(student, setup, copy, probe.epochs_before_copy, resume_state, resume_rng_seed)
    return run


def _resume(student, setup, folder, epochs_before, resume_state, resume_rng_seed):
    if epochs_before is None:
        return {"error": {"type": "", "message": "the run ended before the interruption", "where": ""}}
    resumed = _Probe(resume_state, p=setup["p"])
    manual_seed(resume_rng_seed)
    result, error = _attempt(_fit, student, resumed, setup, folder, resume=True)
    if error is not None:
        return {"error": _error(error)}
    return {"error": None, "epochs_before": epochs_before, "epochs_after": len(resumed.epochs),
            "result": result, "final": _state(resumed)}


def fit_seeding(student, runs):
    """Fresh fits, each a list [setup, caller_rng_seed]: torch's global RNG is seeded with
    caller_rng_seed before fit is called. For each: its result, final weights and the sample
    order of its first epoch."""
    reports = []
    for setup, caller_rng_seed in runs:
        probe = _Probe(setup["state"], p=setup["p"])
        manual_seed(caller_rng_seed)
        result = _fit(student, probe, setup, os.path.join(_folder(), "checkpoints"))
        first = [index for batch in probe.epochs[0] for index in batch] if probe.epochs else []
        reports.append({"result": result, "final": _state(probe), "first_order": first})
    return reports


def fit_resume_without_checkpoint(student, setup):
    """fit(..., resume=True) with a checkpoint folder that holds no last.pt: what it raised."""
    probe = _Probe(setup["state"], p=setup["p"])
    _, error = _attempt(_fit, student, probe, setup, _folder(), resume=True)
    return {"error": None if error is None else _error(error), "epochs": len(probe.epochs)}
