"""Which graders run: checked against course.yml, chosen with --exercise, set aside when the file is missing.

An exercise whose file cannot be graded (missing, two copies, not UTF-8) is not run: it is
reported once, as one outcome worth all of its tests' points.
"""

import pytest

from coursekit.grading.results import TestOutcome
from coursekit.grading.session import describe, exercise_of


def _declared_points(module):
    """(task, points) for every grader function in a module, whether or not it was selected."""
    for name, function in sorted(vars(module).items()):
        if name.startswith("test_") and callable(function):
            for mark in getattr(function, "pytestmark", []):
                if mark.name == "points":
                    yield mark.kwargs["task"], mark.args[0]


def check_graders(items, course):
    """What is wrong with the collected graders: a missing marker or docstring, an unknown exercise,
    points that disagree with course.yml. Points are summed over every grader function of each
    collected module, so grading a selection (-k, node ids) is checked against the same totals as a
    full run."""
    problems, modules = [], {}
    for item in items:
        exercise_marker, points_marker = item.get_closest_marker("exercise"), item.get_closest_marker("points")
        if exercise_marker is None or points_marker is None or not describe(item):
            problems.append(f"{item.nodeid}: a grader needs an exercise marker, a points marker "
                            "and a docstring whose first paragraph the student reads")
        elif exercise_marker.args[0] not in course.ids:
            problems.append(f"{item.nodeid}: exercise {exercise_marker.args[0]!r} is not in {course.path.name}")
        else:
            modules.setdefault(exercise_marker.args[0], {})[item.module.__name__] = item.module
    for exercise_id, exercise_modules in modules.items():
        awarded = {}
        for module in exercise_modules.values():
            for task, value in _declared_points(module):
                awarded[task] = awarded.get(task, 0) + value
        index = course.ids.index(exercise_id)
        declared = course.exercise(exercise_id).tasks
        for task in sorted(set(awarded) | set(declared)):
            if awarded.get(task, 0) != declared.get(task, 0):
                problems.append(f"{course.path.name}: exercises[{index}].tasks.{task}: "
                                f"{declared.get(task, 0)} points here, but the graders award {awarded.get(task, 0)}")
    return problems


def select_exercises(config, items, grading, chosen):
    """Deselect every exercise not in `chosen` (when given) and every one whose file cannot be
    graded; returns an outcome for each of the latter. UsageError for an unknown exercise id."""
    course = grading.course
    for exercise_id in chosen:
        if exercise_id not in course.ids:
            raise pytest.UsageError(f"--exercise {exercise_id}: not an exercise of {course.path.name} "
                                    f"({', '.join(course.ids)})")
    _deselect(config, items, lambda item: bool(chosen) and exercise_of(item) not in chosen)
    collected = {exercise_of(item) for item in items}
    if set(chosen) - collected:
        raise pytest.UsageError(f"--exercise {', '.join(sorted(set(chosen) - collected))}: none of its graders "
                                "were collected (is its autograder/test_<id>.py among the paths given?)")
    problems = {exercise_id: grading.unavailable(exercise_id) for exercise_id in dict.fromkeys(map(exercise_of, items))}
    problems = {exercise_id: problem for exercise_id, problem in problems.items() if problem is not None}
    dropped = _deselect(config, items, lambda item: exercise_of(item) in problems)
    outcomes = []
    for exercise_id, problem in problems.items():
        own = [item for item in dropped if exercise_of(item) == exercise_id]
        outcomes.append(unavailable_outcome(exercise_id, own, problem))
    return outcomes


def _deselect(config, items, unwanted):
    """Remove the items for which unwanted(item) holds, as pytest's -k does; return them."""
    dropped = [item for item in items if unwanted(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not unwanted(item)]
    return dropped


def unavailable_outcome(exercise_id, items, problem):
    """One outcome for an exercise whose file cannot be graded, worth the points of all its tests."""
    return TestOutcome(nodeid=items[0].nodeid.partition("::")[0], name="all tests", exercise=exercise_id,
                       task="", max_score=float(sum(item.get_closest_marker("points").args[0] for item in items)),
                       score=0.0, status="not graded", feedback=problem, tests=len(items))
