"""nbgrader's configuration for this course: the repository root is the course directory.

Release with `python -m coursekit release` rather than `nbgrader generate_assignment` directly:
it first stages build/nbgrader/source/<id>/ with the generated stub in place of the reference
module, then runs nbgrader on it, then scans the release for solution code.

Grading with nbgrader (README: "Grading with nbgrader"): `nbgrader autograde ID` executes each
student's notebook with the student's own module (exclude_overwriting: never the released stub),
then calls the kit's hook, which grades the module in the kit's sandbox and writes each task's
points and feedback into the gradebook and the autograded notebook (coursekit/gradebook/).
"""

from pathlib import Path

from coursekit import paths
from coursekit.config import load_course
from coursekit.gradebook.autograde_hook import configure_autograde

c = get_config()  # noqa: F821  (nbgrader provides get_config)

c.CourseDirectory.course_id = load_course(paths.COURSE_FILE).id    # course.yml: course.id
c.CourseDirectory.source_directory = "build/nbgrader/source"   # staged by coursekit.release
c.CourseDirectory.release_directory = "assignments"            # committed: what students get
c.CourseDirectory.db_url = "sqlite:///build/nbgrader/gradebook.db"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", ".pytest_cache", "feedback", ".venv"]
# What replaces a solution in a released notebook's code cell: a message a student can act on.
c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("replace this line with your answer")'}

# Autograde: keep each student's own module, and score the kit's task cells with the kit's graders,
# in nbgrader's process, never in the notebook's kernel (coursekit/gradebook/autograde_hook.py).
configure_autograde(c, Path(__file__).resolve().parent)
