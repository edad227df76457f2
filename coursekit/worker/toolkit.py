"""What a scenario (autograder/scenarios/<id>.py) may use from the worker's package, and nothing else:

    from _kit_worker.toolkit import known_good, manual_seed, substituted

manual_seed(seed)
    Seed torch's generators, as torch.manual_seed does, at a hundredth of its cost on a CPU
    machine (seeding.py). Scenarios seed before every draw they compare.
@known_good("task")
    Marks a scenario's correct implementation of one of the exercise's tasks (a function or a
    class), used to drive the student's other tasks so that each mistake costs its own task once.
substituted(student, **replacements)
    Within the block the student's module holds the replacements under their names, and after it
    what it held before (or nothing): the student's functions look these names up in their
    module's globals when they call them.

A known-good implementation serves only the student's code of *other* tasks. A submission that
borrows one for the very task under test (calls it from its own code, binds one of its names to
it, or subclasses it) while it is not substituted is refused and reported as a forbidden API, so
that test earns nothing. This stops a submission that finds the scenarios module; it is not a
wall against one that digs the implementation out of closures or rewrites this module's state
(SECURITY.md says what would be).
"""

import contextlib
import inspect

from .seeding import manual_seed

__all__ = ["known_good", "manual_seed", "substituted"]

_ABSENT = object()
_KNOWN = {}                       # id of every known-good object -> its task
_ACTIVE = set()                   # ids of the known-good objects substituted right now
_WATCH = {"student": None, "hits": None}


def watch(student_module_name, hits):
    """Called by the worker before any scenario runs: whose code to check, and where to report a borrowing."""
    _WATCH.update(student=student_module_name, hits=hits)


def _borrowed(task):
    description = f"the grader's own {task}"
    if _WATCH["hits"] is not None:
        _WATCH["hits"].add(description)
    return RuntimeError(f"{description} is not yours to use: write {task} yourself")


def _in_student_module(name):
    return _WATCH["student"] is not None and name == _WATCH["student"]


def _check_caller(implementation, task, frame):
    caller = frame.f_back if frame is not None else None
    from_student = caller is not None and _in_student_module(caller.f_globals.get("__name__"))
    if from_student and id(implementation) not in _ACTIVE:
        raise _borrowed(task)


def report_borrowed_names(student):
    """Report every name of the student's module bound to a known-good object it was not lent."""
    for value in list(vars(student).values()):
        if id(value) in _KNOWN and id(value) not in _ACTIVE:
            _borrowed(_KNOWN[id(value)])


def known_good(task):
    """Mark `implementation` (a function or a class) as the scenario's correct version of `task`."""
    def mark(implementation):
        if inspect.isclass(implementation):
            original_init = implementation.__init__

            def checked_init(self, *args, **kwargs):
                kind = type(self)
                if id(kind) not in _ACTIVE and id(implementation) not in _ACTIVE and (
                        kind is not implementation and _in_student_module(kind.__module__)):
                    raise _borrowed(task)              # a student's subclass of the grader's class
                _check_caller(kind if id(kind) in _ACTIVE else implementation, task, inspect.currentframe())
                original_init(self, *args, **kwargs)

            implementation.__init__ = checked_init
            _KNOWN[id(implementation)] = task
            return implementation

        def checked(*args, **kwargs):
            _check_caller(checked, task, inspect.currentframe())
            return implementation(*args, **kwargs)

        checked.__name__, checked.__qualname__, checked.__doc__ = (implementation.__name__, implementation.__qualname__,
                                                                   implementation.__doc__)
        _KNOWN[id(checked)] = task
        return checked
    return mark


@contextlib.contextmanager
def substituted(student, **replacements):
    """The student's module holds `replacements` within the block, and what it held before after it."""
    saved = {name: student.__dict__.get(name, _ABSENT) for name in replacements}
    added = {id(value) for value in replacements.values()} - _ACTIVE
    try:
        for name, value in replacements.items():
            setattr(student, name, value)
        _ACTIVE.update(added)
        yield
    finally:
        _ACTIVE.difference_update(added)
        for name, value in saved.items():
            if value is _ABSENT:
                student.__dict__.pop(name, None)
            else:
                setattr(student, name, value)
