import sys

import pytest

from coursekit import paths
from coursekit.grading import threads
from coursekit.grading.plugin import register_markers

sys.path.insert(0, str(paths.REPO_ROOT / "tests"))


def pytest_configure(config):
    register_markers(config)     # the kit's tests import grader modules, which carry these markers


@pytest.fixture
def one_thread():
    """Run torch on one thread, as the grader's worker does (and leave the other test workers room)."""
    with threads.one_thread():
        yield
