"""Entry point of the worker process: `python -m <package> REQUEST_FD REPLY_FD`.

The first request configures the worker and imports the student's module; every later request
runs one scenario function and replies with its plain-data result, or with what went wrong.
"""

import sys

from .serve import serve

if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
