import sys

import pytest

from coursekit import paths
from coursekit.grading import threads

sys.path.insert(0, str(paths.REPO_ROOT / "tests"))


@pytest.fixture
def one_thread():
    """Run torch on one thread, as the grader's worker does (and leave the other test workers room)."""
    with threads.one_thread():
        yield
