"""Entry point inside the sandbox: `python -m <package> CONTROL_FD` starts the zygote (zygote.py)."""

import sys

if __name__ == "__main__":
    from .zygote import main
    main(int(sys.argv[1]))
