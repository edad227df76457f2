"""How the kit's commands tell the person at the terminal what went wrong: one format, one stream.

    error: <message>        the command stops; fail() returns its exit status (2: usage or input)
           <more>           further problems of the same error, aligned under the first
    <source>: <message>     a problem the command works around (the grading server's, say)

All of it goes to stderr, flushed at once, so it lands in order with a child's output.
"""

import sys

USAGE = 2                               # a bad argument or input file: nothing was done
_PREFIX = "error: "
_CONTINUATION = "\n" + " " * len(_PREFIX)


def fail(message, code=USAGE):
    """Print `error: message` on stderr; returns `code`, for the command to exit with."""
    return fail_all([message], code)


def fail_all(messages, code=USAGE):
    """Print several problems as one error, the first after `error: `, the rest aligned under it."""
    print(_PREFIX + _CONTINUATION.join(str(message) for message in messages), file=sys.stderr, flush=True)
    return code


def warn(source, message):
    """Print `source: message` on stderr: something failed that the command goes on without."""
    print(f"{source}: {message}", file=sys.stderr, flush=True)
