"""The early-stopping reference, checked against hand-worked sequences, PyTorch itself and the laws of checkpoints.

Independent of the graders' scenarios: plain torch modules, a training loop written out here with
the randomness fit documents, and facts from ../shared/FACTS.md (state_dict() holds live tensors;
a resumed run is exact only with the model, the optimizer and every RNG in the checkpoint).
One module per exercise's reference, as test_reference_facts_<id>.py are; this one is longer because
the checkpoint and resume facts need the training loop written out here (`hand_loop`).
"""

import io
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from coursekit.datasets import noisy_digits

from references import load_reference

pytestmark = pytest.mark.usefixtures("one_thread")

NAN = math.nan


@pytest.fixture(scope="module")
def es():
    return load_reference("early_stopping")


def feed(stopper, metrics):
    return [stopper(metric) for metric in metrics]


# --- EarlyStopping, by hand ---------------------------------------------------------------------

def test_lectures_table(es):
    # 2.5 2.0 1.5 1.2 1.1 improve (each below the best - 0.01); 1.15 1.18 1.20 do not: counter 1, 2, 3.
    stopper = es.EarlyStopping(patience=3, min_delta=0.01)
    assert feed(stopper, [2.5, 2.0, 1.5, 1.2, 1.1, 1.15, 1.18, 1.20]) == [False] * 7 + [True]
    assert (stopper.best, stopper.best_epoch, stopper.counter, stopper.early_stop) == (1.1, 5, 3, True)
    assert stopper(1.22) is True


def test_a_new_stopper(es):
    stopper = es.EarlyStopping()
    state = (stopper.best, stopper.best_epoch, stopper.counter, stopper.early_stop, stopper.epoch)
    assert state == (None, None, 0, False, 0)
    assert (stopper.patience, stopper.min_delta, stopper.mode) == (5, 0.0, "min")
    assert feed(stopper, [1.0, 2.0, 2.0, 2.0, 2.0, 2.0]) == [False] * 5 + [True]
    for bad in ({"mode": "lowest"}, {"patience": -1}, {"min_delta": -0.1}):
        with pytest.raises(ValueError):
            es.EarlyStopping(**bad)


@pytest.mark.parametrize("metrics, options, returned, best_epochs", [
    ([3.0, 2.0, 2.0, 2.0, 2.0], {"patience": 3}, [False] * 4 + [True], [1, 2, 2, 2, 2]),                 # ties
    ([0.5, 0.7, 0.7, 0.7], {"patience": 2, "mode": "max"}, [False] * 3 + [True], [1, 2, 2, 2]),
    ([1.0, 0.95, 0.92, 0.85, 0.84], {"patience": 3, "min_delta": 0.1}, [False] * 5, [1, 1, 1, 4, 4]),
    ([0.50, 0.52, 0.56, 0.57, 0.58], {"patience": 2, "min_delta": 0.05, "mode": "max"}, [False] * 4 + [True],
     [1, 1, 3, 3, 3]),
    ([0.60, 0.70, 0.75, 0.74, 0.76, 0.73, 0.72, 0.71], {"patience": 3, "mode": "max"}, [False] * 7 + [True],
     [1, 2, 3, 3, 5, 5, 5, 5]),
    ([5, 6, 7, 4, 5, 6, 3, 4, 5, 6], {"patience": 3}, [False] * 9 + [True], [1, 1, 1, 4, 4, 4, 7, 7, 7, 7]),
    ([NAN, 2.0, 1.0, NAN, NAN, 0.5], {"patience": 3}, [False] * 6, [None, 2, 3, 3, 3, 6]),
    ([1.0, NAN, NAN, NAN], {"patience": 3}, [False] * 3 + [True], [1, 1, 1, 1]),
    ([1.0, 2.0, 3.0, 0.5, 0.4], {"patience": 2}, [False, False, True, True, True], None),          # sticky
    ([3.0, 2.0, 1.0, 1.5, 0.5], {"patience": 0}, [False] * 3 + [True] * 2, [1, 2, 3, 3, None]),
    ([3.0, 2.0, 1.0, 1.5, 0.5], {"patience": 1}, [False] * 3 + [True] * 2, [1, 2, 3, 3, None]),
], ids=["tie-min", "tie-max", "min-delta-min", "min-delta-max", "mode-max", "counter-reset", "nan-first",
        "nan-after", "sticky", "patience-0", "patience-1"])
def test_worked_sequences(es, metrics, options, returned, best_epochs):
    stopper = es.EarlyStopping(**options)
    got_returned, got_best_epochs = [], []
    for metric in metrics:
        got_returned.append(stopper(metric))
        got_best_epochs.append(stopper.best_epoch)
    assert got_returned == returned
    for got, want in zip(got_best_epochs, best_epochs or []):
        assert want is None or got == want        # None in the table: after the stop, unspecified
    assert all(isinstance(value, bool) for value in got_returned)


def test_the_first_nan_leaves_no_best(es):
    stopper = es.EarlyStopping(patience=3)
    stopper(NAN)
    assert (stopper.best, stopper.best_epoch, stopper.counter) == (None, None, 1)


def test_state_dict_is_a_plain_snapshot_with_the_settings(es):
    stopper = es.EarlyStopping(patience=2, min_delta=0.1, mode="max")
    feed(stopper, [0.5, 0.7])
    state = stopper.state_dict()
    before = dict(state)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    feed(stopper, [0.6, 0.65])
    assert state == before, "a later call changed a state_dict already returned"
    buffer.seek(0)
    restored = es.EarlyStopping()
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert (restored.patience, restored.min_delta, restored.mode, restored.best_epoch) == (2, 0.1, "max", 2)
    assert feed(restored, [0.6, 0.65]) == [False, True]


def test_state_dict_of_a_module_holds_the_live_tensors():
    # FACTS.md: a best-weights snapshot must clone them, or the next step changes it too.
    model = nn.Linear(3, 2)
    shallow, deep = model.state_dict(), {name: value.clone() for name, value in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    model(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    assert torch.equal(shallow["weight"], model.weight.detach())
    assert not torch.equal(deep["weight"], model.weight.detach())


# --- checkpoints --------------------------------------------------------------------------------

def trained_model_and_adam(seed):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    step(model, optimizer, seed)
    return model, optimizer


def step(model, optimizer, seed):
    generator = torch.Generator().manual_seed(seed)
    X, y = torch.randn(10, 4, generator=generator), torch.randint(0, 3, (10,), generator=generator)
    optimizer.zero_grad()
    F.cross_entropy(model(X), y).backward()
    optimizer.step()


def test_checkpoint_round_trip_continues_exactly(es, tmp_path):
    model, optimizer = trained_model_and_adam(0)
    stopper = es.EarlyStopping(patience=4)
    feed(stopper, [1.0, 0.9, 0.95])
    path = tmp_path / "checkpoint.pt"
    torch.manual_seed(7)
    expected_rng_state = torch.get_rng_state()
    es.save_checkpoint(path, model=model, optimizer=optimizer, epoch=3, early_stopping=stopper,
                       history=[1.0, 0.9, 0.95], generator_state=torch.Generator().manual_seed(1).get_state())
    expected_draw = torch.rand(4)
    saved = torch.load(path, weights_only=True)      # plain data and tensors only
    assert isinstance(saved, dict) and set(saved) == es.CHECKPOINT_KEYS     # the layout the stub documents
    assert saved["epoch"] == 3 and saved["early_stopping"] == stopper.state_dict()
    assert torch.equal(saved["rng_state"], expected_rng_state)
    assert sorted(path.parent.iterdir()) == [path], "a successful save leaves no temporary file"

    fresh, fresh_optimizer = trained_model_and_adam(1)
    fresh_stopper = es.EarlyStopping()
    torch.manual_seed(99)
    metadata = es.load_checkpoint(str(path), model=fresh, optimizer=fresh_optimizer, early_stopping=fresh_stopper)
    assert torch.equal(torch.rand(4), expected_draw), "torch's RNG continues from the save"
    assert metadata["epoch"] == 3 and metadata["history"] == [1.0, 0.9, 0.95]
    assert torch.equal(metadata["generator_state"], torch.Generator().manual_seed(1).get_state())
    step(model, optimizer, 5)
    step(fresh, fresh_optimizer, 5)
    for a, b in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(a, b), "same weights and the same Adam state give the same step"
    assert feed(fresh_stopper, [0.96, 0.97, 0.98]) == feed(stopper, [0.96, 0.97, 0.98]) == [False, False, True]


def test_a_failed_write_keeps_the_previous_checkpoint(es, tmp_path, monkeypatch):
    model, optimizer = trained_model_and_adam(2)
    path = tmp_path / "last.pt"
    es.save_checkpoint(path, model=model, optimizer=optimizer, epoch=1)
    real_save = torch.save

    def save_half(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer)
        with open(f, "wb") as file:
            file.write(buffer.getvalue()[:len(buffer.getvalue()) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", save_half)
    with pytest.raises(OSError, match="disk full"):
        es.save_checkpoint(path, model=nn.Linear(2, 2), optimizer=optimizer, epoch=2)
    monkeypatch.undo()
    assert sorted(path.parent.iterdir()) == [path], "the temporary file is removed"
    assert es.load_checkpoint(path, model=model)["epoch"] == 1


def test_missing_and_unreadable_checkpoints(es, tmp_path):
    model = nn.Linear(2, 2)
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        es.load_checkpoint(tmp_path / "nothing.pt", model=model)
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint at all" * 10)
    torch.save(torch.ones(3), tmp_path / "tensor.pt")
    torch.save({"model": nn.Linear(2, 2)}, tmp_path / "module.pt")          # needs full unpickling
    for name in ("garbage.pt", "tensor.pt", "module.pt"):
        with pytest.raises(ValueError, match=name):
            es.load_checkpoint(tmp_path / name, model=model)


# --- fit ----------------------------------------------------------------------------------------

def digits(seed):
    return noisy_digits(seed, val_size=300)


def network(seed, p=0.0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(p), nn.Linear(32, 10))


def hand_loop(model, train, val, epochs, seed, lr=0.05, batch_size=40):
    """fit's documented recipe, written out: the weights and the losses after every epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    torch.manual_seed(seed)
    shuffler = torch.Generator().manual_seed(seed)
    (X, y), (X_val, y_val) = train, val
    states, train_losses, val_losses = [], [], []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(X), generator=shuffler)
        total = 0.0
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            loss = F.cross_entropy(model(X[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        model.eval()
        with torch.no_grad():
            val_losses.append(F.cross_entropy(model(X_val), y_val).item())
        train_losses.append(total / len(X))
        states.append({name: value.clone() for name, value in model.state_dict().items()})
    return states, train_losses, val_losses


def test_fit_is_the_documented_loop_and_ends_with_the_best_weights(es, tmp_path):
    train, val = digits(1)
    states, train_losses, val_losses = hand_loop(network(1, p=0.1), train, val, epochs=12, seed=4)
    model = network(1, p=0.1)
    result = es.fit(model, torch.optim.Adam(model.parameters(), lr=0.05), train, val, max_epochs=12,
                    early_stopping=es.EarlyStopping(patience=50), checkpoint_dir=tmp_path, batch_size=40, seed=4)
    assert result["val_loss"] == val_losses and result["train_loss"] == train_losses
    best = min(range(12), key=val_losses.__getitem__)
    assert best < 11, "the validation loss has turned up by the last epoch"
    assert (result["best_epoch"], result["stopped_epoch"], result["best_val_loss"]) == (best + 1, 12, val_losses[best])
    for name, value in model.state_dict().items():
        assert torch.equal(value, states[best][name]), "at max_epochs the model holds the best epoch's weights"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["best.pt", "last.pt"]
    assert torch.load(tmp_path / "best.pt", weights_only=True)["epoch"] == best + 1


class Interruptible(nn.Module):
    """Wraps a network; raises KeyboardInterrupt at the given training batch, as Ctrl-C would."""

    def __init__(self, net, interrupt_at=None):
        super().__init__()
        self.net, self.interrupt_at, self.batches = net, interrupt_at, 0

    def forward(self, x):
        if self.training and torch.is_grad_enabled():
            if self.batches == self.interrupt_at:
                raise KeyboardInterrupt
            self.batches += 1
        return self.net(x)


def test_fit_stops_early_and_a_resumed_run_is_bitwise_the_same(es, tmp_path):
    train, val = digits(2)

    def run(folder, model, resume=False):
        return es.fit(model, torch.optim.Adam(model.parameters(), lr=0.05), train, val, max_epochs=30,
                      early_stopping=es.EarlyStopping(patience=3), checkpoint_dir=folder, batch_size=40, seed=9,
                      resume=resume)

    whole = Interruptible(network(3, p=0.1))
    result = run(tmp_path / "whole", whole)
    assert result["stopped_epoch"] == result["best_epoch"] + 3 < 30
    X_val, y_val = val
    whole.eval()
    with torch.no_grad():
        assert F.cross_entropy(whole(X_val), y_val).item() == pytest.approx(min(result["val_loss"]), rel=1e-6)
    assert result["best_val_loss"] == min(result["val_loss"])

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "interrupted", Interruptible(network(3, p=0.1), interrupt_at=5 * (result["best_epoch"] + 1) + 2))
    torch.manual_seed(1234)                                   # a new process: another RNG, another model
    resumed = Interruptible(network(5, p=0.1))
    assert run(tmp_path / "interrupted", resumed, resume=True) == result
    for a, b in zip(resumed.parameters(), whole.parameters()):
        assert torch.equal(a, b)


def test_the_seed_alone_decides_a_fresh_run_and_resume_needs_a_checkpoint(es, tmp_path):
    train, val = digits(3)

    def run(folder, rng_seed, seed=4, resume=False):
        model = network(1, p=0.1)
        torch.manual_seed(rng_seed)                  # the caller's RNG: fit seeds its own
        result = es.fit(model, torch.optim.Adam(model.parameters(), lr=0.05), train, val, max_epochs=2,
                        early_stopping=es.EarlyStopping(patience=50), checkpoint_dir=folder, batch_size=40,
                        seed=seed, resume=resume)
        return result, model.state_dict()

    (first, weights), (second, other_weights) = run(tmp_path / "a", 11), run(tmp_path / "b", 22)
    assert first == second and all(torch.equal(weights[name], other_weights[name]) for name in weights)
    assert run(tmp_path / "c", 11, seed=5)[0] != first
    with pytest.raises(FileNotFoundError):
        run(tmp_path / "never_saved", 11, resume=True)
