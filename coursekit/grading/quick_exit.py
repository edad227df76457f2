"""End a command-line grading run without the interpreter's teardown: about half a second, saved per run.

After pytest returns, Python tears every module down and collects what is left: with torch and the
graders loaded that takes about half a second, on every submission Gradescope grades (each one a
cold start). Nothing in it matters to a grading run: results.json was written atomically before,
and the terminal report is flushed here. So a run started by pytest's command line
(`python -m pytest autograder ...`, `pytest autograder ...`) ends with `os._exit(status)` once
every other exit handler has run.

The handler is registered when this module is imported (by the plugin, before torch is): exit
handlers run last registered first, so torch's and every later one run before it. Of the earlier
ones, logging's is called here; the rest are the interpreter's and pytest's own bookkeeping. A run
started some other way (`pytest.main([...])` inside another program), or under a tracer or
coverage, exits as usual.
"""

import atexit
import logging
import os
import sys

_armed = []       # the pytest session whose exit status ends the process, once `arm()` accepted it


def started_by_command_line(config):
    """True when pytest's own command line started this process with these arguments."""
    return tuple(config.invocation_params.args) == tuple(sys.argv[1:])


def arm(session):
    """End the process with `session.exitstatus` at exit, if the command line started it and nothing traces it."""
    if started_by_command_line(session.config) and sys.gettrace() is None and "coverage" not in sys.modules:
        _armed[:] = [session]


def _exit_now():
    if not _armed:
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(int(_armed[0].exitstatus))


atexit.register(_exit_now)
