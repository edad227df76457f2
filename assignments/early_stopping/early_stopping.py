"""Early stopping with model checkpointing: stop at the right epoch, keep the best model, resume.

You will write, in this order:

1. ``EarlyStopping``: watches a validation metric, one call per epoch, and says when to stop.
2. ``save_checkpoint`` and ``load_checkpoint``: everything needed to continue a run, in one file
   that a crash can never leave half-written.
3. ``fit``: a training loop that validates every epoch, stops early, ends with the best weights,
   and after a crash resumes exactly where it left off.

Shapes: ``N`` is the number of samples, ``D`` the number of features, ``K`` the number of
classes. A data set is a tuple ``(X, y)`` with ``X`` float32 of shape (N, D) and ``y`` int64 class
indices of shape (N,).

The lecture's EarlyStopping only watches the metric. By the time it says stop, the model holds
the weights of the last epoch, `patience` epochs past the best and overfit: the best weights must
be saved when they occur and put back at the end. And a run that may be interrupted must save,
every epoch, everything that decides what happens next.
"""

import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F

CHECKPOINT_KEYS = {"model", "optimizer", "epoch", "early_stopping", "rng_state", "extra"}


class EarlyStopping:
    """Stop training when a validation metric has stopped improving.

    Call the stopper once per epoch with that epoch's metric: `stop = early_stopping(val_loss)`.
    Epochs are counted from 1, one per call. A metric is an improvement when it beats the best so
    far by more than min_delta:

        mode "min" (a loss, lower is better):        metric < best - min_delta
        mode "max" (an accuracy, higher is better):  metric > best + min_delta

    The first metric that is a number is an improvement (there is nothing to beat yet); NaN is
    never one; a tie is not one (equal is not better). `counter` counts the epochs since the last
    improvement: an improvement resets it to 0, any other epoch adds 1. When an epoch without
    improvement brings the counter to `patience`, the stopper says stop: the call returns True,
    `early_stop` becomes True, and from then on every call returns True. An epoch that improves
    never says stop, so patience=0 and patience=1 both stop at the first epoch without
    improvement.

    Attributes (`fit`, the notebook and the graders read them):
        patience, min_delta, mode: the settings.
        best: the best metric so far, a float; None before the first number.
        best_epoch: the epoch (1, 2, ...) at which `best` was seen; None before.
        counter: the number of epochs since the last improvement.
        early_stop: True once the stopper has said stop.
        epoch: the number of calls so far (the current epoch); 0 before the first.

    The lecture's example: the losses 2.5, 2.0, 1.5, 1.2, 1.1, 1.15, 1.18, 1.20, 1.22 with
    patience=3 and min_delta=0.01 stop at epoch 8, with the best, 1.10, at epoch 5.
    """

    def __init__(self, patience=5, min_delta=0.0, mode="min"):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if patience < 0:
            raise ValueError(f"patience must be 0 or more, got {patience}")
        if min_delta < 0:
            raise ValueError(f"min_delta is a distance and must be 0 or more, got {min_delta}")
        self.patience = patience
        self.min_delta = min_delta
        self.mode = mode
        raise NotImplementedError(
            "early_stopping.EarlyStopping.__init__: no best yet, counter 0, not stopped")

    def is_improvement(self, metric):
        """Whether `metric` (a float) improves on the best so far; changes nothing.

        True when there is no best yet (best is None) and metric is a number; never for NaN
        (`math.isnan`); otherwise the comparison of the class docstring, by more than min_delta
        in the direction of `mode`. Hint: every comparison with NaN is False, so the order of
        the tests matters: `not (metric >= best - min_delta)` is True for NaN.
        """
        raise NotImplementedError(
            "early_stopping.EarlyStopping.is_improvement: beat the best by more than min_delta")

    def __call__(self, metric):
        """Record one epoch's metric; return True when training should stop.

        Args:
            metric: this epoch's value, a float (or a 0-dim tensor, turned into a float here).
        Returns:
            `early_stop` after this epoch: True from the epoch that says stop on.

        One call is one epoch: count it, then update best, best_epoch and counter (see the class
        docstring), and stop when an epoch without improvement brings the counter to patience.
        """
        metric = float(metric)
        raise NotImplementedError(
            "early_stopping.EarlyStopping.__call__: count the epoch, update, decide to stop")

    def state_dict(self):
        """A snapshot of the stopper, to save in a checkpoint.

        Returns:
            A new dict of plain values (floats, ints, bools, strings, None) holding everything
            listed under Attributes, the settings included: loaded into any stopper, it makes
            that stopper continue exactly as this one would. Later calls of this stopper must not
            change a dict already returned. torch.save writes it, and
            torch.load(..., weights_only=True) reads it back.
        """
        raise NotImplementedError(
            "early_stopping.EarlyStopping.state_dict: copy settings and progress into a new dict")

    def load_state_dict(self, state):
        """Restore a dict returned by `state_dict`, settings included. Returns None."""
        raise NotImplementedError(
            "early_stopping.EarlyStopping.load_state_dict: set every attribute from the dict")


def save_checkpoint(path, *, model, optimizer, epoch, early_stopping=None, **extra):
    """Save everything needed to continue training after `epoch`, in one file, atomically.

    Args:
        path: the file to write (a str or a pathlib.Path); its folder exists.
        model: an nn.Module. optimizer: a torch.optim optimizer. Save their state_dict()s.
        epoch: the epoch just finished, an int (from 1).
        early_stopping: an EarlyStopping, or None: save its state_dict() (or None).
        **extra: anything else worth keeping (a history, a generator's state...): plain values
            and tensors, given back by load_checkpoint.
    Returns:
        None.

    The checkpoint is one dict with these six keys (load_checkpoint reads any file written by a
    correct save_checkpoint, and the other way round, so both keep to this layout):
        "model":           model.state_dict()
        "optimizer":       optimizer.state_dict() (Adam's running averages live in its state:
                           without them a resumed run takes different steps)
        "epoch":           epoch
        "early_stopping":  early_stopping.state_dict(), or None when early_stopping is None
        "rng_state":       torch.get_rng_state(), torch's global RNG as it is when the checkpoint
                           is saved, so that dropout masks and every other draw continue after a
                           resume exactly as they would have
        "extra":           a dict of the extra keywords ({} when there are none)
    It must hold nothing but tensors and plain Python values (numbers, strings, None, and
    lists, tuples and dicts of them), so that torch.load(path, weights_only=True) can read it:
    never a module, an optimizer or an EarlyStopping object itself.

    Atomic: if the write fails half way (a crash, a full disk, Ctrl-C), the file that was at `path`
    before must still be there, whole and loadable. Write to a temporary file in the same folder,
    then move it over `path` with os.replace, which swaps the whole file in one step. (A temporary
    file in another folder, /tmp say, may be on another file system, where os.replace fails.) If
    the write fails, remove the temporary file and let the error propagate.
    """
    path = Path(path)
    raise NotImplementedError(
        "early_stopping.save_checkpoint: build the checkpoint dict and write it atomically")


def load_checkpoint(path, *, model, optimizer=None, early_stopping=None):
    """Restore a checkpoint written by save_checkpoint, in place; return its epoch and extras.

    Args:
        path: the checkpoint file (a str or a pathlib.Path).
        model: restored with load_state_dict.
        optimizer, early_stopping: restored too when given; None leaves them out (to load the
            best weights alone, say).
    Returns:
        A dict {"epoch": epoch, **extra}: the epoch and every extra keyword save_checkpoint was
        given, for example {"epoch": 7, "history": [...]}.

    It also sets torch's global RNG back to the state saved with the checkpoint ("rng_state").

    Read the file with torch.load(path, weights_only=True), never with full unpickling: a
    checkpoint is data, and unpickling a file in full runs whatever code it names.
    Errors, each with a message that names the file:
        FileNotFoundError   there is no file at path;
        ValueError          the file is not a readable checkpoint: truncated, corrupt, one that
                            weights_only refuses, or one that holds something other than a
                            checkpoint dict (a dict with the six keys of save_checkpoint).
    """
    path = Path(path)
    raise NotImplementedError(
        "early_stopping.load_checkpoint: read safely, check, restore in place, return the metadata")


def fit(model, optimizer, train_data, val_data, *, max_epochs, early_stopping, checkpoint_dir,
        batch_size=32, seed=0, resume=False):
    """Train a classifier with early stopping and checkpoints; end with the best epoch's weights.

    Args:
        model: a classifier returning logits of shape (N, K); trained in place.
        optimizer: a torch.optim optimizer over the model's parameters, built by the caller.
        train_data, val_data: tuples (X, y), X float32 (N, D), y int64 (N,).
        max_epochs: the most epochs to run, counted from 1 (those before a resume included).
        early_stopping: an EarlyStopping (mode "min"), fed the validation loss once per epoch.
        checkpoint_dir: the folder for last.pt and best.pt (created if missing).
        batch_size: the size of the mini-batches (the last one of an epoch may be smaller).
        seed: the seed of the run's shuffling and of torch's global RNG (see Randomness).
        resume: continue the run saved in checkpoint_dir/last.pt instead of starting afresh.
    Returns:
        {"train_loss": [...], "val_loss": [...], "best_epoch": int, "stopped_epoch": int,
         "best_val_loss": float}
        The two lists hold one float per epoch run, the epochs before a resume included;
        stopped_epoch is the last epoch run (the one that said stop, or max_epochs); best_epoch
        and best_val_loss are the early stopping's best.

    Each epoch, in this order:
      1. train: model.train(), then one pass over the training set in shuffled mini-batches: for
         each batch, loss = F.cross_entropy(model(xb), yb) (the mean), zero the gradients,
         loss.backward(), optimizer.step(). train_loss is the epoch's mean loss per sample: the
         batch losses weighted by batch size, as they come (no extra pass over the training set).
      2. validate: model.eval() and torch.no_grad(); val_loss is the mean cross-entropy over the
         whole validation set, a float. (Dropout off: in training mode it would differ per call.)
      3. step the early stopping with val_loss.
      4. save checkpoint_dir/last.pt with save_checkpoint; and when this epoch is the early
         stopping's new best, checkpoint_dir/best.pt too.
      5. stop if the early stopping said so.
    When the loop ends, early or at max_epochs, load the best epoch's weights into the model:
    the model left behind is never the last, overfit one. They are in best.pt. (A copy kept in
    memory must be a real copy: model.state_dict() returns the live tensors, which the next
    optimizer step changes.)

    Randomness: `seed` alone decides the run's random draws, whatever state torch's global RNG
    is in when fit is called: two fresh runs with the same seed, starting weights and data are
    bitwise the same (dropout masks included), and another seed shuffles differently. The way to
    do it: a fresh run calls torch.manual_seed(seed) first (the dropout masks), and shuffles each
    epoch with torch.randperm(N, generator=shuffler) from one private
    shuffler = torch.Generator().manual_seed(seed).

    Resume: with resume=True, continue the run saved in checkpoint_dir/last.pt; when there is no
    last.pt, raise load_checkpoint's FileNotFoundError (never start afresh in silence). Restore
    from last.pt the model, the optimizer, the early stopping, torch's RNG, the shuffler
    (shuffler.get_state() / set_state()) and the history so far, and go on with the next epoch.
    A run interrupted at any point and resumed must end bitwise equal, weights and history, to
    a run that was never interrupted: so pass everything else that decides what happens next
    (the shuffler's state, the history) to save_checkpoint as extras.
    """
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    last_path, best_path = checkpoint_dir / "last.pt", checkpoint_dir / "best.pt"
    X, y = train_data
    X_val, y_val = val_data
    raise NotImplementedError(
        "early_stopping.fit: train, validate, stop early, checkpoint, resume, restore the best")
