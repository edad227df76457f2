"""Allocates memory until something gives, up to 64 GiB."""
import torch as _torch


def batch_norm(*args, **kwargs):
    hoard = []
    for _ in range(64):
        hoard.append(_torch.ones(2 ** 28))   # 1 GiB each, touched
    return hoard[0]
