import sys

import pytest
import torch

from coursekit import paths

sys.path.insert(0, str(paths.REPO_ROOT / "tests"))


@pytest.fixture
def one_thread():
    """Run torch on one thread, as the grader's worker does (and leave the other test workers room)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
