"""Seeding torch's global random number generators for what this process can use.

`torch.manual_seed(seed)` seeds the CPU generator and, for each accelerator backend torch was built
with (CUDA, XPU, MTIA), that backend's generators, or, where the backend has not started, queues
the seed for when it does. Every queuing formats the whole Python stack, so one call costs 0.3 to
1 ms, against a few microseconds for the CPU generator alone; the worker seeds before every call
into student code and the scenarios before every draw they compare, hundreds of times per
submission. Where no accelerator can start, nothing queued could ever run, so seeding the CPU
generator alone leaves every generator in the same state.
"""

import functools
import os

import torch

# A GPU's driver needs one of these (NVIDIA, AMD's ROCm, WSL): the sandbox binds the first kind.
GPU_DEVICE_FILES = ("/dev/nvidiactl", "/dev/kfd", "/dev/dxg")


@functools.cache
def _accelerator_available():
    """Whether an accelerator could start here, asked without starting any driver.

    No accelerator where torch was built without one; none for a CUDA or ROCm build on a machine
    without a GPU's device files. Anything else counts as available, and is seeded by torch itself.
    """
    accelerator_api = getattr(torch, "accelerator", None)         # torch 2.6 and later
    if accelerator_api is None:
        return True
    accelerator = accelerator_api.current_accelerator()            # as built; touches no driver
    if accelerator is None:
        return False
    if accelerator.type == "cuda":
        return any(os.path.exists(path) for path in GPU_DEVICE_FILES)
    return True


def manual_seed(seed):
    """`torch.manual_seed(seed)`, without queuing seeds for accelerators that cannot start here.

    Returns the default (CPU) generator, as torch.manual_seed does.
    """
    if _accelerator_available():
        return torch.manual_seed(seed)
    return torch.default_generator.manual_seed(int(seed))
