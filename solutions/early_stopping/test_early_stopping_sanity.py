"""Public sanity checks for early_stopping.py: run `pytest` in this folder.

They check your code against the lecture's example, hand-worked metric sequences, the laws of
checkpoints (what is loaded continues exactly as what was saved) and a small training run.
Passing them is a good sign, not a grade: the hidden graders check many more cases (other
sequences, settings, files, models and interruptions) and train on real data.
"""

import io
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import early_stopping

torch.manual_seed(0)


def feed(stopper, metrics):
    return [stopper(metric) for metric in metrics]


def test_lectures_example_stops_at_epoch_8():
    stopper = early_stopping.EarlyStopping(patience=3, min_delta=0.01)
    assert (stopper.best, stopper.best_epoch, stopper.counter, stopper.early_stop) == (None, None, 0, False)
    returned = feed(stopper, [2.5, 2.0, 1.5, 1.2, 1.1, 1.15, 1.18, 1.20])
    assert returned == [False] * 7 + [True]
    assert stopper.best == pytest.approx(1.1) and stopper.best_epoch == 5 and stopper.counter == 3
    assert stopper(1.22) is True, "once stopped, the stopper keeps saying stop"


def test_ties_min_delta_mode_and_nan():
    tie = early_stopping.EarlyStopping(patience=2)
    assert feed(tie, [1.0, 1.0, 1.0]) == [False, False, True], "a tie is not an improvement"
    margin = early_stopping.EarlyStopping(patience=5, min_delta=0.1)
    feed(margin, [1.0, 0.95, 0.85])
    assert (margin.best, margin.best_epoch) == (0.85, 3), "improve by more than min_delta (0.95 does not)"
    accuracy = early_stopping.EarlyStopping(patience=2, mode="max")
    assert feed(accuracy, [0.5, 0.6, 0.55, 0.58]) == [False, False, False, True]
    assert accuracy.best_epoch == 2, "in mode 'max' higher is better"
    nan = early_stopping.EarlyStopping(patience=3)
    feed(nan, [math.nan])
    assert (nan.best, nan.counter) == (None, 1), "NaN is never an improvement, not even the first"
    assert feed(nan, [2.0, math.nan]) == [False, False] and nan.best == 2.0


def test_patience_zero_stops_at_the_first_epoch_without_improvement():
    stopper = early_stopping.EarlyStopping(patience=0)
    assert feed(stopper, [3.0, 2.0, 2.5, 1.0]) == [False, False, True, True]


def test_state_dict_is_a_plain_snapshot():
    stopper = early_stopping.EarlyStopping(patience=3, min_delta=0.05)
    feed(stopper, [1.0, 0.8, 0.85])
    state = stopper.state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    later = feed(stopper, [0.9, 0.82])
    buffer.seek(0)
    copy = early_stopping.EarlyStopping()          # other settings: the state brings its own
    copy.load_state_dict(torch.load(buffer, weights_only=True))
    assert feed(copy, [0.9, 0.82]) == later == [False, True]


def small_model(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def adam_step(model, optimizer, seed):
    generator = torch.Generator().manual_seed(seed)
    X, y = torch.randn(12, 4, generator=generator), torch.randint(0, 3, (12,), generator=generator)
    optimizer.zero_grad()
    F.cross_entropy(model(X), y).backward()
    optimizer.step()


def test_checkpoint_round_trip(tmp_path):
    model = small_model(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    adam_step(model, optimizer, 1)
    stopper = early_stopping.EarlyStopping(patience=4)
    feed(stopper, [1.0, 0.9])
    path = tmp_path / "checkpoint.pt"
    early_stopping.save_checkpoint(path, model=model, optimizer=optimizer, epoch=2, early_stopping=stopper,
                                   history=[1.0, 0.9])
    after_save = torch.rand(3)
    contents = torch.load(path, weights_only=True)          # plain data and tensors only
    assert isinstance(contents, dict) and early_stopping.CHECKPOINT_KEYS <= set(contents), (
        "the checkpoint is one dict with the six keys of save_checkpoint's docstring")
    assert contents["extra"] == {"history": [1.0, 0.9]} and contents["epoch"] == 2

    fresh = small_model(5)
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=0.3)
    fresh_stopper = early_stopping.EarlyStopping()
    torch.manual_seed(123)
    metadata = early_stopping.load_checkpoint(path, model=fresh, optimizer=fresh_optimizer,
                                              early_stopping=fresh_stopper)
    assert metadata == {"epoch": 2, "history": [1.0, 0.9]}
    assert torch.equal(torch.rand(3), after_save), "load_checkpoint restores torch's RNG"
    assert (fresh_stopper.best, fresh_stopper.best_epoch, fresh_stopper.patience) == (0.9, 2, 4)
    adam_step(model, optimizer, 2)
    adam_step(fresh, fresh_optimizer, 2)
    for a, b in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(a, b), "the weights and Adam's state must both be restored"


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    model = small_model(1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "last.pt"
    early_stopping.save_checkpoint(path, model=model, optimizer=optimizer, epoch=1)
    real_save = torch.save

    def save_half_then_fail(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer)
        half = buffer.getvalue()[:len(buffer.getvalue()) // 2]
        if isinstance(f, (str, bytes)) or hasattr(f, "__fspath__"):
            with open(f, "wb") as file:
                file.write(half)
        else:
            f.write(half)
        raise OSError("the disk is full")

    monkeypatch.setattr(torch, "save", save_half_then_fail)
    with pytest.raises(OSError):
        early_stopping.save_checkpoint(path, model=model, optimizer=optimizer, epoch=2)
    monkeypatch.undo()
    assert early_stopping.load_checkpoint(path, model=small_model(2))["epoch"] == 1


def test_missing_and_corrupt_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError):
        early_stopping.load_checkpoint(tmp_path / "none.pt", model=small_model(0))
    (tmp_path / "corrupt.pt").write_bytes(b"\x00\x01 not a checkpoint" * 20)
    with pytest.raises(ValueError, match="corrupt.pt"):
        early_stopping.load_checkpoint(tmp_path / "corrupt.pt", model=small_model(0))


def noisy_clusters(n, seed, noise):
    """Points around three centres; a fraction `noise` of the labels replaced by another class."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    labels = torch.randint(0, 3, (n,), generator=generator)
    X = centres[labels] + 0.9 * torch.randn(n, 2, generator=generator)
    wrong = torch.rand(n, generator=generator) < noise
    return X, torch.where(wrong, (labels + torch.randint(1, 3, (n,), generator=generator)) % 3, labels)


class Network(nn.Module):
    """An MLP that raises KeyboardInterrupt at training batch `interrupt_at`, as Ctrl-C would."""

    def __init__(self, seed, interrupt_at=None):
        super().__init__()
        torch.manual_seed(seed)
        self.layers = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 64), nn.ReLU(),
                                    nn.Linear(64, 3))
        self.interrupt_at, self.batches = interrupt_at, 0

    def forward(self, x):
        if self.training and torch.is_grad_enabled():
            if self.batches == self.interrupt_at:
                raise KeyboardInterrupt
            self.batches += 1
        return self.layers(x)


TRAIN, VAL = noisy_clusters(60, 0, noise=0.3), noisy_clusters(300, 100, noise=0.0)


def train(model, folder, resume=False):
    return early_stopping.fit(model, torch.optim.Adam(model.parameters(), lr=0.02), TRAIN, VAL, max_epochs=60,
                              early_stopping=early_stopping.EarlyStopping(patience=3), checkpoint_dir=folder,
                              batch_size=16, seed=0, resume=resume)


def test_fit_stops_and_keeps_the_best_weights(tmp_path):
    model = Network(0)
    result = train(model, tmp_path)
    assert set(result) == {"train_loss", "val_loss", "best_epoch", "stopped_epoch", "best_val_loss"}
    assert len(result["train_loss"]) == len(result["val_loss"]) == result["stopped_epoch"] < 60
    assert all(isinstance(value, float) for value in result["train_loss"] + result["val_loss"])
    assert result["stopped_epoch"] == result["best_epoch"] + 3
    assert result["best_val_loss"] == min(result["val_loss"])
    with torch.no_grad():
        final = F.cross_entropy(model.eval()(VAL[0]), VAL[1]).item()
    assert final == pytest.approx(min(result["val_loss"]), rel=1e-5), "the model must end with the best weights"
    assert early_stopping.load_checkpoint(tmp_path / "best.pt", model=Network(1))["epoch"] == result["best_epoch"]
    assert early_stopping.load_checkpoint(tmp_path / "last.pt", model=Network(1))["epoch"] == result["stopped_epoch"]


def test_resume_without_a_checkpoint_raises_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        train(Network(0), tmp_path / "never_saved", resume=True)


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    whole = Network(0)
    result = train(whole, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        train(Network(0, interrupt_at=4 * result["best_epoch"] + 2), tmp_path / "interrupted")
    torch.manual_seed(99)                       # a new process: its own RNG and a new model
    resumed = Network(7)
    assert train(resumed, tmp_path / "interrupted", resume=True) == result
    for a, b in zip(resumed.parameters(), whole.parameters()):
        assert torch.equal(a, b)
