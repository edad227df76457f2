"""torch on one thread, as the grader's worker computes: replays and oracles then match it bit for bit."""

import contextlib

import torch


@contextlib.contextmanager
def one_thread():
    """Run torch on one thread inside the block; restore the thread count after it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
