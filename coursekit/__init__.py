"""The course kit's tooling: configuration, stub generation, release and the grading harness.

Graders (autograder/) and exercises (solutions/) are content; this package is the frame they run in.
"""
