"""The training oracle of the early_stopping graders: what PyTorch says a correct `fit` does.

It runs in the trusted grading process, never in the worker, and never sees student code:
autograder/test_early_stopping.py hands it the set-up of a graded run and what the scenario
recorded of the student's fit (autograder/scenarios/early_stopping.py, `fit_run`), and compares
the student's numbers with its answers. Not a test module (pytest collects only test_*.py).

The graded runs. `fit` trains the grader's probe, an MLP 64-32-10, with Adam at a high learning
rate on noisy digits (coursekit.datasets.noisy_digits: 200 training samples, 20% of them with a
wrong label, and VALIDATION_SIZE = 300 validation samples): the validation loss falls for a few
epochs and then rises as the network learns the wrong labels.
- "early stop" (EARLY_STOP_SEED, EARLY_STOP): no dropout, patience 3, max_epochs 30, batches of
  48, so 200 = 4 * 48 + 8 ends each epoch with a short batch. It stops well before max_epochs.
- "max epochs" (MAX_EPOCHS_SEED, MAX_EPOCHS): dropout 0.1, patience 50 above max_epochs 12, so it
  runs to max_epochs, its best epoch well before the last. It is interrupted as epoch
  INTERRUPT_AFTER_EPOCHS + 1 starts, and resumed by a new process from weights of its own
  (probe_state(MAX_EPOCHS_SEED + RESUME_STATE_OFFSET)), torch's RNG seeded with RESUME_RNG_SEED.
- SEEDING: the max-epochs set-up cut to 2 epochs, for the tests of fit's seeding.
torch's global RNG is seeded with CALLER_RNG_SEED before each call: fit must seed it itself.
tests/test_early_stopping_effect.py checks, on these seeds and on 40 other batch orders and data
sets, that the reference shows what the graders rely on (an early stop well before max_epochs;
in the max-epochs run, the lowest validation loss before the interruption).

Shapes. fit_setup(seed, run) is one run's set-up, a dict as the scenario `fit_run` takes it:
    "state":  the probe's initial weights, float32: "hidden.weight" (32, 64), "hidden.bias" (32,),
              "out.weight" (10, 32), "out.bias" (10,) (probe_state: drawn like nn.Linear's);
    "train":  (X (200, 65) float32, y (200,) int64); column 0 of X holds each sample's index,
              0, 1, ..., 199, and columns 1..64 its features (indexed);
    "val":    (X_val (300, 65) float32, y_val (300,) int64); column 0 holds -1, -2, ..., -300;
    "seed", "lr", "batch_size", "p", "max_epochs", "patience": the options of the run.
The probe ignores column 0 and records, per epoch, the sample indices of each training batch
(`epochs`: a list per epoch of lists of ints) and its weights when the epoch's validation starts
(`snapshots`: one dict per epoch, shaped like "state"). From those:
    validation_loss(state, val) -> float    the mean cross-entropy over the validation set of the
                                            probe with these weights, in eval mode (dropout off);
    lowest_epochs(losses) -> [int]          the epochs, from 1, whose loss is the lowest (near ties too);
    replay(setup, epochs) -> Replay         the recorded batches replayed with torch.optim.Adam on the
                                            probe without dropout (the early-stop run has p = 0):
                                            the weights after each epoch, and each epoch's mean
                                            batch loss per sample, batches weighted by their size;
    batches_per_epoch(setup) -> int         the training batches in one epoch, the short last one too.

Rounding. A correct validation loss differs from validation_loss's by the float32 rounding of a
mean over 300 samples, about 1e-7 relative; close_to_validation_loss allows 1e-5 relative, and
close_to_replayed_loss 1e-4 for a training loss (the replay takes dozens of Adam steps, each
rounded in its own order), both with 1e-6 absolute. lowest_epochs counts every epoch within 1e-6
relative of the minimum, so that a near tie, which rounding could decide either way, is never
held against a submission. Everything here runs on one thread, as the worker does.
"""

import math
from dataclasses import dataclass

import torch
import torch._dynamo  # an optimizer imports it on first use (a second): here, at collection, while the zygote boots
import torch.nn.functional as F
from torch import nn

from coursekit.datasets import noisy_digits
from coursekit.grading.api import is_number, one_thread

# --- the graded runs ----------------------------------------------------------------------------

EARLY_STOP_SEED = 0            # patience 3: stops well before max_epochs
MAX_EPOCHS_SEED = 3            # patience above max_epochs, with dropout: runs to max_epochs, best before it
FIT_OPTIONS = {"lr": 0.05, "batch_size": 40}
EARLY_STOP = {"p": 0.0, "max_epochs": 30, "patience": 3, "batch_size": 48}   # 200 = 4 * 48 + 8: a short last batch
MAX_EPOCHS = {"p": 0.1, "max_epochs": 12, "patience": 50}
SEEDING = {**MAX_EPOCHS, "max_epochs": 2}
INTERRUPT_AFTER_EPOCHS = 10    # the copy of the checkpoints is taken as epoch 11 starts
RESUME_STATE_OFFSET = 100      # the resumed process builds its probe from probe_state(seed + 100)
RESUME_RNG_SEED = 12345        # torch's global RNG in the resumed process, before fit(..., resume=True)
VALIDATION_SIZE = 300
CALLER_RNG_SEED = 777          # torch's global RNG before fit is called: fit seeds it itself


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
    """The set-up of one graded run (`run`: EARLY_STOP, MAX_EPOCHS or SEEDING), as the scenario takes it."""
    (X, y), (X_val, y_val) = noisy_digits(seed, val_size=VALIDATION_SIZE)
    return {"state": probe_state(seed), "train": (indexed(X, 0), y), "val": (indexed(X_val, -1), y_val),
            "seed": seed, **FIT_OPTIONS, **run}


def batches_per_epoch(setup):
    return math.ceil(len(setup["train"][1]) / setup["batch_size"])


# --- what a correct fit does ----------------------------------------------------------------------

class ProbeNet(nn.Module):
    """The probe's network (dropout left out: it is the identity in eval mode, and the replayed run has p = 0)."""

    def __init__(self, state):
        super().__init__()
        self.hidden, self.out = nn.Linear(64, 32), nn.Linear(32, 10)
        self.load_state_dict(state)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x[:, 1:])))


def validation_loss(state, val):
    """The mean cross-entropy over val = (X_val, y_val) of the probe with the weights `state`."""
    with one_thread(), torch.no_grad():
        return F.cross_entropy(ProbeNet(dict(state))(val[0]), val[1]).item()


def lowest_epochs(losses):
    """The epochs (from 1) whose validation loss is the lowest (within rounding: a near tie counts)."""
    lowest = min(losses)
    return [epoch for epoch, loss in enumerate(losses, start=1) if loss <= lowest + 1e-6 * max(1.0, abs(lowest))]


@dataclass(frozen=True)
class Replay:
    states: list           # the weights after each epoch's training, shaped like setup["state"]
    train_losses: list     # each epoch's mean batch loss per sample, a float per epoch


def replay(setup, epochs):
    """The batches of `epochs` (per epoch, the sample indices of each batch) replayed with
    torch.optim.Adam at setup["lr"] from setup["state"], one step per batch on its mean cross-entropy."""
    X, y = setup["train"]
    states, train_losses = [], []
    with one_thread():
        net = ProbeNet(setup["state"])
        optimizer = torch.optim.Adam(net.parameters(), lr=setup["lr"])
        for batches in epochs:
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
    return Replay(states, train_losses)


# --- how close a correct submission's numbers come --------------------------------------------------

def close_to_validation_loss(value, want):
    """A plain number within rounding of a validation loss computed here (1e-5 relative)."""
    return is_number(value) and math.isclose(value, want, rel_tol=1e-5, abs_tol=1e-6)


def close_to_replayed_loss(value, want):
    """A plain number within rounding of a training loss replayed here (1e-4 relative)."""
    return is_number(value) and math.isclose(value, want, rel_tol=1e-4, abs_tol=1e-6)
