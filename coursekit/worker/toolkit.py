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

A known-good implementation serves only the student's code of *other* tasks. Whether code is the
student's is read from where it was compiled (the student's file), never from names it could set;
each use is traced back past library and `eval` frames to the first frame of the student's file
or of the scenarios. A use that reaches the student's code first while the implementation is not
lent (calling it or one of its methods, binding a module name to it, subclassing it, lending it
to itself) is refused and reported as a forbidden API, so that test earns nothing. This is a
speed bump, not a wall: the code lives in the worker beside the student's, so a submission that
digs it out of a closure or rewrites this module's state can still borrow it (SECURITY.md).
"""

import contextlib
import inspect
import os
import sys
import weakref

from .seeding import manual_seed

__all__ = ["known_good", "manual_seed", "substituted"]

_ABSENT = object()
_KNOWN = {}                       # id of every known-good object -> (the object, its task)
_ACTIVE = set()                   # ids of the known-good objects lent right now
_LENT_INSTANCES = weakref.WeakSet()   # instances of known-good classes the grader made, or lent ones made
_WATCH = {"student_file": None, "scenarios_file": None, "hits": None}


def watch(student_module_name, scenarios_module_name, hits):
    """Called by the worker before any scenario runs: whose code to check, and where to report a borrowing."""
    _WATCH.update(student_file=f"{student_module_name}.py", scenarios_file=f"{scenarios_module_name}.py", hits=hits)


def _owner(frame):
    """"student" or "grader" for the first frame, from `frame` back, of the student's or the scenarios' file."""
    while frame is not None:
        name = os.path.basename(frame.f_code.co_filename)
        if name == _WATCH["student_file"]:
            return "student"
        if name == _WATCH["scenarios_file"]:
            return "grader"
        frame = frame.f_back
    return "grader"


def _borrowed(task):
    description = f"the grader's own {task}"
    if _WATCH["hits"] is not None:
        _WATCH["hits"].add(description)
    return RuntimeError(f"{description} is not yours to use: write {task} yourself")


def _refuse(task, lent, frame):
    """Refuse a use that the student's code (traced back from `frame`) makes of something not lent to it."""
    if _WATCH["student_file"] is not None and not lent and _owner(frame) == "student":
        raise _borrowed(task)


def report_borrowed_names(student):
    """Report every name of the student's module bound to a known-good object it was not lent."""
    for value in list(vars(student).values()):
        known = _KNOWN.get(id(value))
        if known is not None and known[0] is value and id(value) not in _ACTIVE:
            _borrowed(known[1])


def _mark_class(implementation, task):
    """Check every method of a known-good class: an instance the grader made (or lent) serves anyone."""
    def lent(instance):
        return (instance in _LENT_INSTANCES
                or bool({id(kind) for kind in type(instance).__mro__} & _ACTIVE) or id(implementation) in _ACTIVE)

    for name, member in list(vars(implementation).items()):
        if not inspect.isfunction(member) or name == "__init_subclass__":
            continue

        def method(self, *args, __member=member, __name=name, **kwargs):
            _refuse(task, lent(self), sys._getframe(1))
            if __name == "__init__":
                _LENT_INSTANCES.add(self)            # made by the grader, or lent: it serves anyone now
            return __member(self, *args, **kwargs)

        method.__name__, method.__qualname__, method.__doc__ = member.__name__, member.__qualname__, member.__doc__
        setattr(implementation, name, method)

    def __init_subclass__(subclass, **kwargs):       # a subclass made by the student's code is theirs
        _refuse(task, bool({id(subclass), id(implementation)} & _ACTIVE), sys._getframe(1))
        super(implementation, subclass).__init_subclass__(**kwargs)

    implementation.__init_subclass__ = classmethod(__init_subclass__)
    _KNOWN[id(implementation)] = (implementation, task)
    return implementation


def known_good(task):
    """Mark `implementation` (a function or a class) as the scenario's correct version of `task`."""
    def mark(implementation):
        if inspect.isclass(implementation):
            return _mark_class(implementation, task)
        def checked(*args, **kwargs):
            _refuse(task, id(checked) in _ACTIVE, sys._getframe(1))
            return implementation(*args, **kwargs)

        checked.__name__, checked.__qualname__, checked.__doc__ = (implementation.__name__,
                                                                   implementation.__qualname__, implementation.__doc__)
        _KNOWN[id(checked)] = (checked, task)
        return checked
    return mark


@contextlib.contextmanager
def substituted(student, **replacements):
    """The student's module holds `replacements` within the block, and what it held before after it."""
    _refuse("substitution", False, sys._getframe(1))       # lending the grader's code to oneself
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
