"""Entry point inside the sandbox: `python -m <package> CONTROL_FD` starts the zygote (zygote_server.py)."""

import sys

if __name__ == "__main__":
    from .zygote_server import main
    main(int(sys.argv[1]))
