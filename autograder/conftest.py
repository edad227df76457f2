"""Hidden graders: `pytest autograder` grades assignments/, `--submission DIR` another folder."""

from coursekit.grading.plugin import *  # noqa: F403  (the hooks and the `student` fixture)
