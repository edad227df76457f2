"""Seeded test inputs, generated in the trusted process (the same seed gives the same tensor)."""

import torch


def seeded_randn(*shape, seed, dtype=torch.float32):
    """Standard normal values from a private generator: global RNG state is left alone."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=torch.float64).to(dtype)


def per_channel_data(*shape, seed, dtype=torch.float32):
    """Input of shape (N, C, *) whose channels have different means (-2..3) and spreads (0.5..3).

    Mistakes in per-channel statistics only show when channels differ, so graders use this
    rather than plain standard normal data.
    """
    channels = shape[1]
    view = (1, channels) + (1,) * (len(shape) - 2)
    means = torch.linspace(-2.0, 3.0, channels, dtype=torch.float64).reshape(view)
    spreads = torch.linspace(0.5, 3.0, channels, dtype=torch.float64).flip(0).reshape(view)
    return (seeded_randn(*shape, seed=seed, dtype=torch.float64) * spreads + means).to(dtype)
