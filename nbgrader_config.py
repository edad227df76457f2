"""nbgrader's configuration for this course: the repository root is the course directory.

Release with `python -m coursekit release` rather than `nbgrader generate_assignment` directly:
it first stages build/nbgrader/source/<id>/ with the generated stub in place of the reference
module, then runs nbgrader on it, then scans the release for solution code.

Grading with nbgrader (README: "Grading with nbgrader"): `nbgrader autograde ID` runs no student
notebook; its first step grades each student's own module (exclude_overwriting: never the released
stub) with the kit, in the kit's sandbox, and gives each task cell its points and feedback, which
nbgrader then saves (coursekit/gradebook/kit_scores.py).
"""

from coursekit import paths
from coursekit.config import load_course
from coursekit.gradebook.kit_scores import configure_autograde

c = get_config()  # noqa: F821  (nbgrader provides get_config)

c.CourseDirectory.course_id = load_course(paths.COURSE_FILE).id    # course.yml: course.id
c.CourseDirectory.source_directory = "build/nbgrader/source"   # staged by coursekit.release
c.CourseDirectory.release_directory = "assignments"            # committed: what students get
c.CourseDirectory.db_url = "sqlite:///build/nbgrader/gradebook.db"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", ".pytest_cache", "feedback", ".venv"]
# What replaces a solution in a released notebook's code cell: a message a student can act on.
c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("replace this line with your answer")'}

# Autograde: keep each student's own module; run no notebook (its code would run unconfined, beside the
# hidden graders); score the task cells with the kit's graders (coursekit/gradebook/kit_scores.py).
configure_autograde(c)
