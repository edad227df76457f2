"""course.yml, read and validated once into typed objects.

Every error names where the bad value is, e.g.
    course.yml: exercises[0].time_limit: expected a positive number of seconds, got 'ten'
and suggests the nearest known key for a misspelt one. One module, because the typed objects and
their readers share one validating reader (_Reader), which gives every message its place.
"""

import datetime
import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class CourseConfigError(ValueError):
    """course.yml is malformed; the message says where and how."""


@dataclass(frozen=True)
class Forbidden:
    """APIs a submission must not use; see coursekit/worker/guard.py for how each is detected."""

    operators: tuple = ()     # ATen operator name patterns, e.g. "aten::*batch_norm*"
    functions: tuple = ()     # torch function name patterns, e.g. "torch.nn.functional.*dropout*"
    classes: tuple = ()       # dotted class names, e.g. "torch.nn.LayerNorm"
    autograd_in: tuple = ()   # student functions that must not use autograd

    def as_plain(self):
        return {"operators": list(self.operators), "functions": list(self.functions),
                "classes": list(self.classes),
                "autograd_in": list(self.autograd_in)}


ISOLATIONS = ("auto", "bubblewrap", "landlock", "none")

# Gradescope's visibility values for a test's results: "visible" always; "after_due_date" once the
# due date (or the late due date) has passed; "after_published" once the instructor publishes the
# grades; "hidden" to the course staff only.
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")


@dataclass(frozen=True)
class Sandbox:
    """How each worker that runs student code is confined; see coursekit/grading/sandbox.py.

    `isolation`: "bubblewrap" requires the namespace sandbox, "landlock" the tier made of Landlock,
    seccomp and a fresh uid (for Docker containers such as Gradescope's), "auto" the strongest that
    runs here (and warns loudly when neither does), "none" runs workers with resource limits only.
    """

    isolation: str = "auto"
    memory_mb: int = 4096        # writable memory of the worker (RLIMIT_DATA)
    processes: int = 64          # processes and threads the worker may start (RLIMIT_NPROC)
    open_files: int = 256        # RLIMIT_NOFILE
    file_size_mb: int = 16       # the largest file it may write (RLIMIT_FSIZE)
    scratch_mb: int = 64         # its writable scratch folder and /tmp, each
    output_mb: int = 16          # what it may print; more kills it
    cpu_seconds: float = 0       # CPU time (RLIMIT_CPU); 0: the exercise's time budget + 60 s

    def cpu_seconds_for(self, exercise):
        return self.cpu_seconds or exercise.time_budget + 60


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    files: tuple
    points: int
    tasks: dict               # task name -> points; the names shared with stubs and graders
    due: datetime.datetime
    time_limit: float         # seconds for each call into student code
    time_budget: float        # seconds of student code for the whole exercise
    forbidden: Forbidden
    visibility: str           # when students see its tests' results on Gradescope: one of VISIBILITIES
    preload: tuple = ()       # modules its code uses besides torch, imported once by the zygote (e.g. torchvision's)

    @property
    def module_file(self):
        return f"{self.id}.py"


@dataclass(frozen=True)
class Course:
    id: str
    title: str
    exercises: tuple
    path: Path
    sandbox: Sandbox = Sandbox()

    def exercise(self, exercise_id):
        for exercise in self.exercises:
            if exercise.id == exercise_id:
                return exercise
        raise KeyError(exercise_id)

    @property
    def ids(self):
        return tuple(exercise.id for exercise in self.exercises)


class _Reader:
    """Takes typed values out of one YAML mapping, naming `where` in every error."""

    def __init__(self, source, mapping, where, allowed):
        self.source, self.where = source, where
        if not isinstance(mapping, dict):
            self.fail(where, f"expected a mapping, got {_shown(mapping)}")
        for key in mapping:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(allowed)})"
                self.fail(self.at(key), f"unknown key{hint}")
        self.mapping = mapping

    def fail(self, where, message):
        raise CourseConfigError(f"{self.source}: {where}: {message}")

    def at(self, key):
        return f"{self.where}.{key}" if self.where else str(key)

    def take(self, key, check, expected, default=...):
        if key not in self.mapping:
            if default is ...:
                self.fail(self.at(key), "required key is missing")
            return default
        value = self.mapping[key]
        if not check(value):
            self.fail(self.at(key), f"expected {expected}, got {_shown(value)}")
        return value

    def choice(self, key, choices, default):
        """The value of `key`, which must be one of `choices` (`default` when the key is absent)."""
        value = self.mapping.get(key, default)
        if value not in choices:
            close = difflib.get_close_matches(str(value), choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.fail(self.at(key), f"expected one of {', '.join(choices)}, got {_shown(value)}{hint}")
        return value


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_text(value):
    return isinstance(value, str) and value.strip() != ""


def _is_positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_positive_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


MAX_SECONDS = 3600


def _is_seconds(value):
    return _is_positive_number(value) and value <= MAX_SECONDS


def _is_text_list(value):
    return isinstance(value, list) and all(_is_text(item) for item in value)


def _is_date(value):
    return isinstance(value, (datetime.date, datetime.datetime))


def _read_forbidden(source, mapping, where):
    reader = _Reader(source, mapping, where, ["operators", "functions", "classes", "autograd_in"])
    return Forbidden(
        operators=tuple(reader.take("operators", _is_text_list, "a list of operator patterns", [])),
        functions=tuple(reader.take("functions", _is_text_list, "a list of function name patterns", [])),
        classes=tuple(reader.take("classes", _is_text_list, "a list of dotted class names", [])),
        autograd_in=tuple(reader.take("autograd_in", _is_text_list, "a list of function names", [])),
    )


def _read_sandbox(source, mapping, where):
    keys = ["isolation", "memory_mb", "processes", "open_files", "file_size_mb", "scratch_mb",
            "output_mb", "cpu_seconds"]
    reader = _Reader(source, mapping, where, keys)
    defaults = Sandbox()
    values = {"isolation": reader.choice("isolation", ISOLATIONS, defaults.isolation),
              "cpu_seconds": float(reader.take("cpu_seconds", _is_seconds,
                                               f"a number of seconds in (0, {MAX_SECONDS}]", 0) or 0)}
    for key in keys[1:-1]:
        values[key] = reader.take(key, _is_positive_int, "a positive integer", getattr(defaults, key))
    return Sandbox(**values)


def _read_exercise(source, mapping, where):
    reader = _Reader(source, mapping, where,
                     ["id", "title", "files", "points", "tasks", "due", "time_limit", "time_budget",
                      "forbidden", "visibility", "preload"])
    exercise_id = reader.take("id", lambda v: isinstance(v, str) and _ID.match(v),
                              "an identifier like 'batchnorm' (lower case, digits, _)")
    files = reader.take("files", lambda v: _is_text_list(v) and v, "a non-empty list of file names")
    if f"{exercise_id}.py" not in files:
        reader.fail(reader.at("files"), f"must list the graded module {exercise_id}.py")
    points = reader.take("points", _is_positive_int, "a positive integer")
    tasks = reader.take("tasks", lambda v: isinstance(v, dict) and v,
                        "a mapping of task name to points")
    for task, task_points in tasks.items():
        if not _is_positive_int(task_points):
            reader.fail(f"{reader.at('tasks')}.{task}", f"expected a positive integer, got {_shown(task_points)}")
    if sum(tasks.values()) != points:
        reader.fail(reader.at("points"), f"is {points}, but its tasks add up to {sum(tasks.values())}")
    due = reader.take("due", _is_date, "a date such as 2027-01-15 or 2027-01-15T23:59:00+00:00")
    if not isinstance(due, datetime.datetime):
        due = datetime.datetime.combine(due, datetime.time(23, 59, tzinfo=datetime.timezone.utc))
    elif due.tzinfo is None:
        due = due.replace(tzinfo=datetime.timezone.utc)      # a time without an offset is UTC, as a bare date's
    return Exercise(
        id=exercise_id,
        title=reader.take("title", _is_text, "a non-empty string"),
        files=tuple(files),
        points=points,
        tasks=dict(tasks),
        due=due,
        time_limit=float(reader.take("time_limit", _is_seconds,
                                     f"a number of seconds in (0, {MAX_SECONDS}]", 10.0)),
        time_budget=float(reader.take("time_budget", _is_seconds,
                                      f"a number of seconds in (0, {MAX_SECONDS}]", 120.0)),
        forbidden=_read_forbidden(source, reader.take("forbidden", lambda v: isinstance(v, dict),
                                                      "a mapping", {}), reader.at("forbidden")),
        visibility=reader.choice("visibility", VISIBILITIES, "visible"),
        preload=tuple(reader.take("preload", lambda v: _is_text_list(v) and all(map(_MODULE.match, v)),
                                  "a list of module names such as torchvision.transforms.v2", [])),
    )


def parse_course(text, source="course.yml", path=None):
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = getattr(error, "problem", None) or str(error)
        raise CourseConfigError(f"{source}: {where}: not valid YAML: {problem}") from None
    top = _Reader(source, document if document is not None else {}, "", ["course", "exercises", "sandbox"])
    course = _Reader(source, top.take("course", lambda v: isinstance(v, dict), "a mapping"),
                     "course", ["id", "title"])
    entries = top.take("exercises", lambda v: isinstance(v, list) and v, "a non-empty list")
    exercises = tuple(_read_exercise(source, entry, f"exercises[{index}]")
                      for index, entry in enumerate(entries))
    seen = set()
    for index, exercise in enumerate(exercises):
        if exercise.id in seen:
            raise CourseConfigError(f"{source}: exercises[{index}].id: {exercise.id!r} appears twice")
        seen.add(exercise.id)
    return Course(
        id=course.take("id", lambda v: isinstance(v, str) and _ID.match(v.replace("-", "_")),
                       "an identifier like 'dl-regularization'"),
        title=course.take("title", _is_text, "a non-empty string"),
        exercises=exercises,
        path=Path(path) if path else Path(source),
        sandbox=_read_sandbox(source, top.take("sandbox", lambda v: isinstance(v, dict), "a mapping", {}),
                              "sandbox"),
    )


def load_course(path):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CourseConfigError(f"{path}: cannot read the course file ({error.strerror})") from None
    return parse_course(text, source=path.name, path=path)
