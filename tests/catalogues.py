"""The mutant catalogues (tests/mutants/<id>.yml): plausible submissions built by editing a source.

Kinds of entry:
    mutant   one real student mistake, made in the reference solution. `task` names the course.yml
             task whose code it changes; `caught_by` lists the grader tests that must fail; every
             other test it fails must be of the same task, or be listed in `also_fails` with the
             reason the mistake really belongs there too.
    correct  a correct solution written differently, made in the reference: it keeps full marks.
    lazy     a submission that does nothing real, made in the *stub* (every other task still
             raises NotImplementedError): it must score 0 on every task.

Besides the catalogued entries, every exercise gets generated lazy submissions (`lazy_variants`):
the stub with each task's NotImplementedError replaced by "return None", "return the input" or
"return zeros", so that no side-property test pays for code that does not do its job.
"""

import ast
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from coursekit import paths
from coursekit.config import load_course
from coursekit.stubs import make_stub

from grader_runs import reference_source

CATALOGUE_DIR = Path(__file__).parent / "mutants"
KINDS = ("mutant", "correct", "lazy")


@dataclass(frozen=True)
class Submission:
    exercise: str
    id: str
    kind: str
    source: str
    mistake: str = ""
    task: str = ""
    caught_by: tuple = ()
    also_fails: dict = field(default_factory=dict)

    @property
    def name(self):
        return f"{self.exercise}/{self.id}"


def catalogue_paths():
    return sorted(CATALOGUE_DIR.glob("*.yml"))


def stub_source(exercise_id):
    return make_stub(reference_source(exercise_id), exercise_id)


def course_tasks(exercise_id):
    return set(load_course(paths.COURSE_FILE).exercise(exercise_id).tasks)


def _apply_edits(base, edits, where):
    source = base
    for edit in edits:
        count = source.count(edit["old"])
        if count != 1:
            raise ValueError(f"{where}: text to replace occurs {count} times: {edit['old'][:80]!r}")
        source = source.replace(edit["old"], edit["new"])
    if source == base:
        raise ValueError(f"{where}: changes nothing")
    ast.parse(source)
    return source


def _edited_top_level_names(base, edits):
    """The top-level definitions of `base` that the edits' old text falls in (None: outside all)."""
    tree = ast.parse(base)
    spans = [(node.lineno, node.end_lineno, node.name) for node in tree.body
             if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    names = set()
    for edit in edits:
        start = base.index(edit["old"])
        first = base.count("\n", 0, start) + 1
        last = first + edit["old"].rstrip("\n").count("\n")
        names |= {name for low, high, name in spans if low <= first and last <= high} or {None}
    return names


def load_catalogue(path):
    """The catalogue's entries as Submissions, checked for consistency (ValueError says what's wrong)."""
    exercise_id = path.stem
    reference, tasks = reference_source(exercise_id), course_tasks(exercise_id)
    submissions, seen = [], set()
    for entry in yaml.safe_load(path.read_text(encoding="utf-8")):
        where = f"{path.name}: {entry.get('id')}"
        kind = entry.get("kind")
        if kind not in KINDS:
            raise ValueError(f"{where}: kind must be one of {KINDS}, not {kind!r}")
        if entry["id"] in seen:
            raise ValueError(f"{where}: the id is used twice")
        seen.add(entry["id"])
        base = stub_source(exercise_id) if kind == "lazy" else reference
        source = _apply_edits(base, entry["replace"], where)
        task, caught_by = entry.get("task", ""), tuple(entry.get("caught_by", ()))
        also_fails = entry.get("also_fails", {})
        if kind == "mutant":
            if task not in tasks:
                raise ValueError(f"{where}: task {task!r} is not one of course.yml's {sorted(tasks)}")
            edited = _edited_top_level_names(reference, entry["replace"])
            if edited & tasks and task not in edited:
                raise ValueError(f"{where}: the edits are in {sorted(map(str, edited))}, but task is {task!r}")
            if not caught_by:
                raise ValueError(f"{where}: a mutant names the tests that catch it (caught_by)")
            if not all(isinstance(reason, str) and reason.strip() for reason in also_fails.values()):
                raise ValueError(f"{where}: each also_fails test needs its reason")
        elif task or caught_by or also_fails:
            raise ValueError(f"{where}: only a mutant has task, caught_by and also_fails")
        submissions.append(Submission(exercise_id, entry["id"], kind, source, entry.get("mistake", ""),
                                      task, caught_by, dict(also_fails)))
    return submissions


# --- generated lazy submissions -------------------------------------------------------------------

def _first_argument(function):
    names = [argument.arg for argument in function.args.posonlyargs + function.args.args]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    return names[0] if names else None


def _lazy_statement(function, strategy):
    argument = _first_argument(function)
    if function.name == "__init__" or strategy == "nothing" or argument is None:
        return "return None"
    if strategy == "input":
        return f"return {argument}"
    return (f"return __import__('torch').zeros_like({argument}) "
            f"if isinstance({argument}, __import__('torch').Tensor) else 0.0")


LAZY_STRATEGIES = {"nothing": "every task does nothing and returns None",
                   "input": "every task returns its first argument unchanged",
                   "zeros": "every task returns zeros shaped like its first argument (or 0.0)"}


def lazy_source(exercise_id, strategy):
    """The stub with each task's `raise NotImplementedError(...)` replaced by the strategy's statement."""
    stub = stub_source(exercise_id)
    tree, lines = ast.parse(stub), stub.splitlines()
    replacements = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef):
            continue
        for statement in ast.walk(function):
            if (isinstance(statement, ast.Raise) and isinstance(statement.exc, ast.Call)
                    and getattr(statement.exc.func, "id", None) == "NotImplementedError"
                    and statement.exc.args and isinstance(statement.exc.args[0], ast.Constant)
                    and str(statement.exc.args[0].value).startswith(f"{exercise_id}.")):
                indent = lines[statement.lineno - 1][:statement.col_offset]
                replacements.append((statement.lineno, statement.end_lineno,
                                     indent + _lazy_statement(function, strategy)))
    if not replacements:
        raise ValueError(f"the stub of {exercise_id} has no task to make lazy")
    for first, last, line in sorted(replacements, reverse=True):
        lines[first - 1:last] = [line]
    return "\n".join(lines) + "\n"


def lazy_variants(exercise_id):
    return [Submission(exercise_id, f"generated_lazy_{strategy}", "lazy", lazy_source(exercise_id, strategy),
                       description) for strategy, description in LAZY_STRATEGIES.items()]


def all_submissions():
    """Every catalogued and generated submission of every exercise, in a stable order."""
    submissions = []
    for path in catalogue_paths():
        submissions += load_catalogue(path) + lazy_variants(path.stem)
    return submissions
