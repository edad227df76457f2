"""Entry point of the worker process: `python -m <package> REQUEST_FD REPLY_FD [--drop-to-uid UID]`.

The first request configures the worker and imports the student's module; every later request
runs one scenario function and replies with its plain-data result, or with what went wrong.
`--drop-to-uid` (inside the sandbox, when the grader runs as root) switches to that unprivileged
uid before anything else is imported, and refuses to go on if any privilege is left.
"""

import sys

from .privileges import drop_privileges

if __name__ == "__main__":
    if sys.argv[3:4] == ["--drop-to-uid"]:
        drop_privileges(int(sys.argv[4]))
    from .serve import serve
    serve(int(sys.argv[1]), int(sys.argv[2]))
