"""nbgrader's gradebook with the kit's scores: a release's task cells, and the autograde step that scores them."""
