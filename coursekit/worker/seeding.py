"""Seeding torch's global random number generators for what this process can use.

`torch.manual_seed(seed)` seeds the CPU generator and, for each accelerator backend torch was built
with (CUDA, XPU, MTIA), that backend's generators, or, where the backend has not started, queues
the seed for when it does. Every queuing formats the whole Python stack, so one call costs 0.3 to
1 ms, against a few microseconds for the CPU generator alone; the worker seeds before every call
into student code and the scenarios before every draw they compare, hundreds of times per
submission. Where no accelerator is available, nothing queued could ever run, so seeding the CPU
generator alone leaves every generator in the same state.
"""

import functools

import torch


@functools.cache
def _accelerator_available():
    # Asked in the worker, once, never in the zygote: on a machine with a GPU the question loads
    # its driver (a process must not fork after that), and torch.manual_seed is then used as is.
    return torch.accelerator.is_available()


def manual_seed(seed):
    """`torch.manual_seed(seed)`, without queuing seeds for accelerators this process cannot start.

    Returns the default (CPU) generator, as torch.manual_seed does.
    """
    if _accelerator_available():
        return torch.manual_seed(seed)
    return torch.default_generator.manual_seed(int(seed))
