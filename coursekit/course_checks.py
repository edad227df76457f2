"""Checks of course.yml against the reference solutions (config.py checks the file on its own).

config.py validates what course.yml says; these checks need the repository too: every exercise
has a reference solution, every task names a function or class in it, and every forbidden class
exists.
"""

import ast

from coursekit import paths


def course_problems(course, *, classes=True, resolve=None):
    """Ways course.yml disagrees with solutions/: missing modules, tasks and classes that name nothing.

    Forbidden classes are looked up with `resolve(dotted_name)` (ValueError or ImportError if it
    names nothing; default: import them here, which imports torch and torchvision). `classes=False`
    leaves them out: the grading server has its zygote look them up, as it imports those anyway.
    """
    if classes and resolve is None:
        from coursekit.worker.guard import resolve  # imports torch
    problems = []
    for index, exercise in enumerate(course.exercises):
        module = paths.SOLUTIONS / exercise.id / exercise.module_file
        if not module.is_file():
            problems.append(f"exercises[{index}].id: no reference solution at {module.relative_to(paths.REPO_ROOT)}")
            continue
        names = {node.name for node in ast.parse(module.read_text(encoding="utf-8")).body
                 if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        for name in (exercise.forbidden.classes if classes else ()):
            try:
                resolve(name)
            except (ValueError, ImportError) as error:
                problems.append(f"exercises[{index}].forbidden.classes: {error}")
        for task in exercise.tasks:
            if task not in names:
                problems.append(f"exercises[{index}].tasks.{task}: {exercise.module_file} defines no "
                                f"function or class named {task}")
    return problems
