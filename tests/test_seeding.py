"""The worker's manual_seed leaves torch's generators as torch.manual_seed does."""

import pytest
import torch

from coursekit.worker import seeding


@pytest.fixture
def spy_on_torch_manual_seed(monkeypatch):
    calls = []
    real = torch.manual_seed
    monkeypatch.setattr(torch, "manual_seed", lambda seed: calls.append(seed) or real(seed))
    return calls


@pytest.mark.parametrize("seed", [0, 1, 1234, -7, 2 ** 63 - 1, 3.0, torch.tensor(5)])
def test_the_cpu_generator_ends_in_the_state_torch_manual_seed_gives(seed):
    torch.rand(3)
    seeding.manual_seed(seed)
    ours = torch.get_rng_state()
    torch.manual_seed(seed)
    assert torch.equal(ours, torch.get_rng_state())
    assert seeding.manual_seed(seed) is torch.default_generator


def test_without_an_accelerator_nothing_is_queued_for_one(monkeypatch, spy_on_torch_manual_seed):
    monkeypatch.setattr(seeding, "_accelerator_available", lambda: False)
    seeding.manual_seed(11)
    assert spy_on_torch_manual_seed == []


def test_with_an_accelerator_every_generator_is_seeded_by_torch_itself(monkeypatch, spy_on_torch_manual_seed):
    monkeypatch.setattr(seeding, "_accelerator_available", lambda: True)
    seeding.manual_seed(11)
    assert spy_on_torch_manual_seed == [11]


@pytest.mark.parametrize("built_for, device_files, available", [
    (None, ["/dev/nvidiactl"], False),              # a CPU build: nothing could start
    ("cuda", [], False),                            # a CUDA build on a machine without a GPU
    ("cuda", ["/dev/nvidiactl"], True),
    ("cuda", ["/dev/kfd"], True),                   # ROCm builds report "cuda" too
    ("xpu", [], True),                              # other accelerators: torch decides
])
def test_an_accelerator_counts_as_available_unless_it_cannot_start(monkeypatch, built_for, device_files,
                                                                   available):
    monkeypatch.setattr(torch.accelerator, "current_accelerator",
                        lambda: None if built_for is None else torch.device(built_for))
    monkeypatch.setattr(seeding.os.path, "exists", lambda path: path in device_files)
    assert seeding._accelerator_available.__wrapped__() is available
