"""Gradescope's autograder upload: `python -m coursekit gradescope` (see build.py).

    limits.py             the course's time budgets and sandbox memory against Gradescope's settings
    requirements.py       the pinned requirements.txt the container installs
    scripts.py            setup.sh and run_autograder, as Gradescope runs them
    leaks.py              proof that an upload holds no reference solution
    build.py              one autograder.zip per Gradescope assignment
    submission_layout.py  (in the container) a student's upload, as a folder the grader accepts
    finish.py             (in the container) results.json completed: layout notes, or a fallback
"""
