"""Allocates memory until something gives, up to 64 GiB.

The memory is mapped, not touched: the sandbox's limit (RLIMIT_DATA) counts what is mapped, so it
must refuse the fourth GiB or so at once. (Touching 4 GiB can take longer than a call's time limit
on a machine whose memory is slow to fault in, and the call would then end as timed out.)
"""
import torch as _torch


def batch_norm(*args, **kwargs):
    hoard = []
    for _ in range(64):
        hoard.append(_torch.empty(2 ** 28))   # 1 GiB each
    return hoard[0]
