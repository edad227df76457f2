"""nbgrader's gradebook with the kit's scores: the task cells of a release, and the autograde hook."""
