"""Which of a student's notebooks cannot be read: the written answers, which the graders never open.

The graders grade each exercise's module; its notebook (course.yml's `files` ending in .ipynb,
kept beside the module: `<student>/<id>/<id>.ipynb` or `<student>/<id>.ipynb`) holds the answers
graded by hand. One that is not valid JSON (a half-saved file, a merge gone wrong) cannot be
opened by Jupyter or nbgrader, so the class CSV names it rather than let it pass as graded. A
missing notebook is not named: nbgrader-prepare gives one the released notebook.
"""

import json
from pathlib import Path


def _notebook_names(exercise):
    return [name for name in exercise.files if name.endswith(".ipynb")]


def notebook_problem(path):
    """None when `path` is a JSON object, as every notebook is; else why not, e.g. "not valid JSON (line 3)"."""
    try:
        document = json.loads(Path(path).read_bytes())
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    except json.JSONDecodeError as error:
        return f"not valid JSON (line {error.lineno})"
    except ValueError:                  # bytes that are no Unicode text JSON allows
        return "not valid JSON (not UTF-8 text)"
    return None if isinstance(document, dict) else "not a notebook (JSON, but not an object)"


def notebook_problems(student_folder, course):
    """"<name>: <why>" for every notebook of the course's exercises in `student_folder` that cannot
    be read, in course order; [] when there is none."""
    folder = Path(student_folder)
    problems = []
    for exercise in course.exercises:
        for name in _notebook_names(exercise):
            for path in (folder / exercise.id / name, folder / name):
                problem = notebook_problem(path) if path.is_file() else None
                if problem:
                    shown = path.relative_to(folder).as_posix()
                    problems.append(f"{shown}: {problem}")
    return problems
