import sys

from coursekit import paths

sys.path.insert(0, str(paths.REPO_ROOT / "tests"))
