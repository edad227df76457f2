"""Scenarios for the early_stopping graders. They run in the worker, beside the student's module.

Each takes the student's module first, then plain data and tensors from the grader; it calls the
student's code and returns plain data and tensors. Checkpoints are written to folders made here,
in the worker's scratch folder (its working directory), and read back here, with the student's
load_checkpoint or torch.load(..., weights_only=True): the grader never sees the worker's files.

The models handed to `fit` are the grader's own `_Probe`: an MLP 64-32-10 that ignores input
column 0, where the grader puts a sample's index (0, 1, ... for training samples; -1, -2, ... for
validation samples). The probe records which samples each training batch held, in which mode it
ran, and a copy of its weights at the start of each epoch's validation, so the trusted grader can
replay the training with torch.optim.Adam and compute every validation loss itself. To interrupt a
run, the probe copies the checkpoint folder as a given training batch starts: the copy is what an
interruption at that moment leaves on disk, and the run is resumed from it as a new process would.
"""

import io
import os
import re
import shutil
import tempfile
import traceback

import torch
import torch.nn.functional as F
from torch import nn

from _kit_worker.seeding import manual_seed  # the worker's package (coursekit/worker/seeding.py)

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


# --- EarlyStopping ------------------------------------------------------------------------------

def _attributes(stopper):
    return {name: getattr(stopper, name, "missing") for name in ("best", "best_epoch", "counter", "early_stop")}


def _feed(stopper, metrics):
    """Call the stopper once per metric; what it returned and its attributes after each call."""
    calls = []
    for metric in metrics:
        returned = stopper(metric)
        calls.append({"returned": returned, **_attributes(stopper)})
    return calls


def stopper_run(student, metrics, options):
    """A new EarlyStopping(**options), its attributes, then one call per metric."""
    stopper = student.EarlyStopping(**options)
    return {"initial": _attributes(stopper), "calls": _feed(stopper, metrics)}


def stopper_state_round_trip(student, metrics, options, split):
    """Take state_dict() after `split` calls, go on, then load it into new default stoppers.

    `original` goes on with the remaining metrics after the snapshot. `loaded` gets the dict
    as it was returned (after the original has gone on); `saved` gets it through torch.save and
    torch.load(weights_only=True), done at once. Both new stoppers are built with the default
    settings and fed the remaining metrics.
    """
    original = student.EarlyStopping(**options)
    _feed(original, metrics[:split])
    state = original.state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    rest = _feed(original, metrics[split:])
    buffer.seek(0)
    try:
        from_file = torch.load(buffer, weights_only=True)
    except Exception as error:
        return {"original": rest, "weights_only_error": _error(error)}
    continued = {}
    for name, source in (("loaded", state), ("saved", from_file)):
        stopper = student.EarlyStopping()
        stopper.load_state_dict(source)
        continued[name] = _feed(stopper, metrics[split:])
    return {"original": rest, "weights_only_error": None, **continued}


# --- checkpoints -------------------------------------------------------------------------------

def _small_model(seed):
    manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))


def _adam_steps(model, optimizer, steps, seed):
    """A few Adam steps on random data, so that the optimizer has state (Adam's moments)."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        X, y = torch.randn(16, 5, generator=generator), torch.randint(0, 3, (16,), generator=generator)
        optimizer.zero_grad()
        F.cross_entropy(model(X), y).backward()
        optimizer.step()


def _state(model):
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def checkpoint_round_trip(student, extras):
    """Save a trained model, its Adam and a stopper; load them into fresh objects; take one more step.

    Returns what load_checkpoint returned, both models after the same extra step (equal when the
    weights and the optimizer's state were restored), the learning rate the fresh optimizer ended
    with, and both stoppers' continuations on the same metrics.
    """
    model = _small_model(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    _adam_steps(model, optimizer, 3, seed=2)
    stopper = student.EarlyStopping(patience=4, min_delta=0.01)
    _feed(stopper, [1.0, 0.5, 0.7])
    path = os.path.join(_folder(), "checkpoint.pt")
    student.save_checkpoint(path, model=model, optimizer=optimizer, epoch=7, early_stopping=stopper, **extras)

    fresh = _small_model(3)
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=0.5)
    fresh_stopper = student.EarlyStopping()
    metadata = student.load_checkpoint(path, model=fresh, optimizer=fresh_optimizer, early_stopping=fresh_stopper)
    weights_restored = all(torch.equal(a, b) for a, b in zip(_state(fresh).values(), _state(model).values()))
    _adam_steps(model, optimizer, 1, seed=4)
    _adam_steps(fresh, fresh_optimizer, 1, seed=4)
    metrics = [0.6, 0.45, 0.5, 0.55, 0.6, 0.65]
    return {"metadata": metadata, "weights_restored": weights_restored,
            "stepped": _state(model), "fresh_stepped": _state(fresh),
            "fresh_lr": fresh_optimizer.param_groups[0]["lr"],
            "stopper": _feed(stopper, metrics), "fresh_stopper": _feed(fresh_stopper, metrics)}


def checkpoint_rng(student, rng_seed):
    """Save (no early stopping given), draw, disturb the RNG, load (model only), draw again."""
    model = _small_model(5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = os.path.join(_folder(), "checkpoint.pt")
    manual_seed(rng_seed)
    student.save_checkpoint(path, model=model, optimizer=optimizer, epoch=1)
    after_save = torch.rand(6)
    manual_seed(rng_seed + 1)
    torch.rand(100)
    student.load_checkpoint(path, model=_small_model(6))
    return {"after_save": after_save, "after_load": torch.rand(6)}


def checkpoint_file(student):
    """Save a checkpoint with Adam's state, a stopper and extras; read the file with weights_only=True."""
    model = _small_model(7)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    _adam_steps(model, optimizer, 2, seed=8)
    stopper = student.EarlyStopping(patience=2)
    _feed(stopper, [0.9, 0.8])
    path = os.path.join(_folder(), "checkpoint.pt")
    student.save_checkpoint(path, model=model, optimizer=optimizer, epoch=2, early_stopping=stopper,
                            history=[0.9, 0.8], generator_state=torch.Generator().manual_seed(9).get_state())
    try:
        torch.load(path, weights_only=True)
    except Exception as error:
        return {"error": _error(error)}
    return {"error": None}


class _SimulatedCrash(OSError):
    """What the grader's torch.save raises after writing half of the bytes."""


def interrupted_save(student):
    """Save a checkpoint, then save another with a torch.save that fails half way; read the file back.

    The failing torch.save writes the first half of the checkpoint's bytes to wherever it was
    asked to write (a path or an open file), then raises, as a full disk or a killed process
    would leave things.
    """
    folder = _folder()
    path = os.path.join(folder, "last.pt")
    model = _small_model(10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    student.save_checkpoint(path, model=model, optimizer=optimizer, epoch=1, note="first")
    first_weights = _state(model)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)

    real_save, serialization_save = torch.save, torch.serialization.save

    def save_half_then_fail(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        half = buffer.getvalue()[:len(buffer.getvalue()) // 2]
        if isinstance(f, (str, os.PathLike)):
            with open(f, "wb") as file:
                file.write(half)
        else:
            f.write(half)
            f.flush()
        raise _SimulatedCrash("simulated crash: the disk filled up half way through the write")

    torch.save = torch.serialization.save = save_half_then_fail
    failure = None
    try:
        student.save_checkpoint(path, model=model, optimizer=optimizer, epoch=2, note="second")
    except NotImplementedError:
        raise
    except Exception as error:
        failure = _error(error)
    finally:
        torch.save, torch.serialization.save = real_save, serialization_save

    reader = _small_model(11)
    try:
        metadata = student.load_checkpoint(path, model=reader)
        loaded = {"metadata": metadata, "weights_equal": all(
            torch.equal(a, b) for a, b in zip(_state(reader).values(), first_weights.values())), "error": None}
    except NotImplementedError:
        raise
    except Exception as error:
        loaded = {"error": _error(error)}
    try:
        torch.load(path, weights_only=True)
        readable = True
    except Exception:
        readable = False
    return {"failure": failure, "loaded": loaded, "readable": readable}


class _RunsCode:
    """Unpickled in full, it creates a folder: proof that loading ran code named in the file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.makedirs, (self.marker,)


def _write_bad_checkpoint(kind, path):
    if kind == "random bytes":
        with open(path, "wb") as file:
            file.write(bytes(range(256)) * 8)
    elif kind == "truncated":
        torch.save({"model": _small_model(12).state_dict(), "epoch": 3}, path)
        with open(path, "rb") as file:
            data = file.read()
        with open(path, "wb") as file:
            file.write(data[:len(data) // 2])
    elif kind == "not a checkpoint":
        torch.save(torch.arange(6.0), path)
    elif kind == "runs code":
        torch.save({"model": _RunsCode(path + ".ran"), "epoch": 1}, path)
    elif kind != "missing":
        raise ValueError(f"unknown kind of file {kind!r}")


def load_bad_checkpoint(student, kind):
    """load_checkpoint on a missing, corrupt or foreign file: what it raised, and whether code ran."""
    path = os.path.join(_folder(), "broken.pt")
    _write_bad_checkpoint(kind, path)
    code_ran = os.path.exists(path + ".ran")
    try:
        returned = student.load_checkpoint(path, model=_small_model(13))
        error = None
    except NotImplementedError:
        raise
    except Exception as raised:
        error = {**_error(raised), "names_the_file": "broken.pt" in str(raised)}
        returned = None
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
        self.train_modes, self.val_modes = set(), set()
        self.batches_seen = 0
        self._training_epoch = False

    def forward(self, x):
        ids = x[:, 0]
        if bool((ids < 0).all()):
            self.val_modes.add(self.training)
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
                "train_modes": sorted(self.train_modes), "val_modes": sorted(self.val_modes)}


def _read_checkpoint(student, path, state):
    """A checkpoint that fit wrote, read back into a fresh probe with the student's load_checkpoint."""
    if not os.path.exists(path):
        return {"error": {"type": "FileNotFoundError", "message": f"fit wrote no {os.path.basename(path)}",
                          "where": ""}}
    probe = _Probe(state)
    try:
        metadata = student.load_checkpoint(path, model=probe)
    except NotImplementedError:
        raise
    except Exception as error:
        return {"error": _error(error)}
    epoch = metadata.get("epoch") if isinstance(metadata, dict) else None
    return {"error": None, "epoch": epoch, "state_dict": _state(probe)}


def _fit(student, probe, setup, folder, resume=False):
    optimizer = torch.optim.Adam(probe.parameters(), lr=setup["lr"])
    stopper = student.EarlyStopping(patience=setup["patience"])
    return student.fit(probe, optimizer, tuple(setup["train"]), tuple(setup["val"]),
                       max_epochs=setup["max_epochs"], early_stopping=stopper, checkpoint_dir=folder,
                       batch_size=setup["batch_size"], seed=setup["seed"], resume=resume)


def fit_run(student, setup, interrupt_after=None, resume_state=None, resume_rng_seed=0):
    """One fit of a probe from setup["state"]: its result, final weights, records and checkpoints.

    `setup` holds state, p, lr, train, val, max_epochs, patience, batch_size and seed.

    With `interrupt_after` = n, the checkpoint folder is copied as it is when the (n + 1)-th
    training batch starts, and then the run is resumed from the copy as a new process would
    resume it: a new probe whose weights are `resume_state` (not the run's start), a new Adam, a
    new EarlyStopping with the same patience, torch's global RNG seeded with `resume_rng_seed`,
    and fit(..., resume=True). All it may rely on is the copied last.pt.
    """
    folder = _folder()
    copy = folder + "-interrupted"
    probe = _Probe(setup["state"], p=setup["p"], copy_after=interrupt_after, copy_from=folder, copy_to=copy)
    manual_seed(setup["seed"])
    result = _fit(student, probe, setup, folder)
    run = {"result": result, "final": _state(probe), **probe.record(),
           "best": _read_checkpoint(student, os.path.join(folder, "best.pt"), setup["state"]),
           "last": _read_checkpoint(student, os.path.join(folder, "last.pt"), setup["state"])}
    if interrupt_after is not None:
        run["resumed"] = _resume(student, setup, copy, probe.epochs_before_copy, resume_state, resume_rng_seed)
    return run


def _resume(student, setup, folder, epochs_before, resume_state, resume_rng_seed):
    if epochs_before is None:
        return {"error": {"type": "", "message": "the run ended before the interruption", "where": ""}}
    resumed = _Probe(resume_state, p=setup["p"])
    manual_seed(resume_rng_seed)
    try:
        result = _fit(student, resumed, setup, folder, resume=True)
    except NotImplementedError:
        raise
    except Exception as error:
        return {"error": _error(error)}
    return {"error": None, "epochs_before": epochs_before, "epochs_after": len(resumed.epochs),
            "result": result, "final": _state(resumed)}
