"""Where the kit's folders are, relative to the repository that holds this package."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
COURSE_FILE = REPO_ROOT / "course.yml"
SOLUTIONS = REPO_ROOT / "solutions"
ASSIGNMENTS = REPO_ROOT / "assignments"
AUTOGRADER = REPO_ROOT / "autograder"
