"""What the grader asks of the zygote when it wants a worker: one SpawnRequest, and the sandbox's root.

The grader builds a SpawnRequest (coursekit/grading/process.py) and sends `to_message()` with the
descriptors in SPAWN_DESCRIPTORS' order; the zygote (zygote_server.py) reads it back with
`from_message()`, which refuses a message with missing, unknown or mistyped fields. This module
is the only place that knows the message's fields.
"""

from dataclasses import MISSING, asdict, dataclass, fields, replace

# The worker's scratch folder inside the sandbox: it holds the student's module and the scenarios,
# and is the worker's working folder and home.
SANDBOX_ROOT = "/sandbox"

# The confinement tiers, strongest first (coursekit/grading/sandbox.py chooses one).
TIERS = ("bubblewrap", "landlock", "none")

# The descriptors sent with a spawn request, in this order.
SPAWN_DESCRIPTORS = ("request_read", "reply_write", "output_write", "student_file", "scenarios_file")


@dataclass(frozen=True)
class SpawnRequest:
    """One worker to start.

    module, scenarios:  the names the student's module and the scenarios are imported as
    uid:                the uid the worker drops to (None: keep the grader's)
    rlimits:            {RLIMIT name: limit} the worker sets on itself before student code runs
    scratch_bytes:      the size of each private tmpfs (the sandbox root and /tmp)
    tier:               "bubblewrap": the worker gets mount, PID and IPC namespaces of its own (inside
                        bubblewrap); "landlock": it runs in a scratch folder of the host under
                        Landlock and a seccomp filter (landlock.py, syscall_filter.py); "none":
                        in a scratch folder of the host, limits only
    scratch:            the worker's scratch folder as it sees it: SANDBOX_ROOT with bubblewrap
    environment:        the worker's whole environment
    keep_under_tmp:     folders under /tmp (the Python environment) the private /tmp must keep
    refuse:             the operator patterns the worker refuses (guard.py)
    readable, devices:  the landlock tier's paths the worker may read, and devices it may use
    preload:            modules the zygote imports (once, before it forks) because the exercise's
                        code uses them besides torch: course.yml's `preload` (torchvision's
                        transforms take a second or two, paid once per zygote instead of per worker)
    """

    module: str
    scenarios: str
    uid: int | None
    rlimits: dict
    scratch_bytes: int
    tier: str
    scratch: str
    environment: dict
    keep_under_tmp: tuple = ()
    refuse: tuple = ()
    readable: tuple = ()
    devices: tuple = ()
    preload: tuple = ()

    @property
    def confined(self):
        """True when the worker gets namespaces and a sandbox root of its own (the bubblewrap tier)."""
        return self.tier == "bubblewrap"

    def to_message(self):
        return {**asdict(self), **{name: list(getattr(self, name)) for name in _TUPLES}}

    @classmethod
    def from_message(cls, message):
        """The request in a decoded spawn message (its "op" and "seq" aside); ValueError if malformed."""
        known = {field.name for field in fields(cls)}
        required = {field.name for field in fields(cls) if field.default is MISSING}
        given = set(message) - {"op", "seq"}
        if given - known or required - given:
            raise ValueError(f"a spawn request has the fields {sorted(known)}, not {sorted(given)}")
        request = cls(**{name: message[name] for name in given})
        for name, kind in _FIELD_TYPES.items():
            value = getattr(request, name)
            if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
                raise ValueError(f"a spawn request's {name} cannot be {type(value).__name__}")
        if request.tier not in TIERS:
            raise ValueError(f"a spawn request's tier is one of {', '.join(TIERS)}, not {request.tier!r}")
        return replace(request, **{name: tuple(getattr(request, name)) for name in _TUPLES})


_TUPLES = ("keep_under_tmp", "refuse", "readable", "devices", "preload")
_FIELD_TYPES = {"module": str, "scenarios": str, "uid": (int, type(None)), "rlimits": dict, "scratch_bytes": int,
                "tier": str, "scratch": str, "environment": dict, **{name: (list, tuple) for name in _TUPLES}}
