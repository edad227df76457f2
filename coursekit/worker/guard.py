"""Run-time detection and refusal of forbidden PyTorch APIs in student code.

Refusal: every ATen operator matching an `operators` pattern gets, in the dispatcher itself, a
kernel that records the use and raises instead of computing (for every key at which the operator
has a kernel that computes: backends, nested, quantized and sparse tensors, composites). Popping
the Python modes below, or restoring patched functions, does not bring the real implementation
back: only finding and destroying the registration would.

Four detectors, all active only while student code runs:
- operators: the refusing kernels record every use, however the Python code got there
  (F.batch_norm, nn.BatchNorm2d, torch.ops.aten..., getattr chains). Where no refusal is
  installed (the kit's own tests), a TorchDispatchMode sees each operator instead; it is not
  used in the worker, where it would slow every operation several times over.
- functions: a TorchFunctionMode sees every overridable torch function by its public name
  (torch.nn.functional.dropout, torch.dropout, aten.native_dropout...). It is needed where the
  operator is composite and decomposes before the dispatcher (dropout on the CPU reaches it as
  bernoulli_ and mul, which honest code uses too).
- classes: the __init__ of each forbidden class is wrapped, so building one (or a subclass of one)
  is recorded.
- autograd: named student functions run under a TorchFunctionMode that records any autograd
  entry point, and any operation that would record an autograd graph.

The detectors report what honest code used; the refusing kernels keep a dishonest submission
from getting credit for the operator's work. SECURITY.md states what remains possible. One module,
because the four detectors share one object's hits and one `watching()` window, and are installed
and read together.
"""

import contextlib
import fnmatch
import functools
import importlib
import re
import warnings

import torch
from torch.overrides import TorchFunctionMode, resolve_name
from torch.utils._python_dispatch import TorchDispatchMode

_AUTOGRAD_ENTRY_POINTS = {"grad", "backward", "vjp", "jvp", "jacobian", "hessian", "vmap"}
# Keys whose kernels only wrap and pass an operator on (autograd, vmap, autocast, tracing, ...):
# the refusal sits at the keys that compute, which every call reaches in the end.
_PASS_THROUGH_KEYS = ("Autograd", "ADInplaceOrView", "Functionalize", "FuncTorch", "Autocast", "BackendSelect",
                      "Meta", "Python", "PreDispatch", "Tracer", "Batched", "Conjugate", "Negative", "ZeroTensor",
                      "Named", "AutogradOther", "Undefined")
REFUSAL_PREFIX = "forbidden operator "


class ForbiddenOperatorError(RuntimeError):
    """Raised by a refusing kernel in place of the forbidden operator's result."""


def _refusing_kernel(name, hits):
    def refuse(*args, **kwargs):
        hits.add(f"operator {name}")
        raise ForbiddenOperatorError(f"{REFUSAL_PREFIX}{name}: this exercise asks you to write it yourself")
    return refuse


@functools.lru_cache(maxsize=1)
def _computing_keys():
    """Every dispatch key at which a kernel computes a result (CPU, CUDA, NestedTensorCPU, the composites...)."""
    keys = []
    for key in torch._C.DispatchKey.__members__:
        try:
            torch._C._dispatch_has_kernel_for_dispatch_key("aten::add.Tensor", key)
        except RuntimeError:     # markers such as StartOfDenseBackends are not keys
            continue
        if not key.startswith(_PASS_THROUGH_KEYS):
            keys.append(key)
    return tuple(keys)


@functools.cache
def refusal_targets(patterns):
    """The (operator overload, dispatch key) pairs `refuse_operators` covers for a tuple of patterns.

    Every "aten::" overload whose name (before the dot) matches a pattern, at every key where it
    has a kernel that computes. Tens of milliseconds to find, so the zygote finds them once,
    before it forks the workers that refuse them (zygote.py).
    """
    matcher = re.compile("|".join(fnmatch.translate(pattern) for pattern in patterns))
    targets = []
    for full_name in sorted(torch._C._dispatch_get_all_op_names()):
        if full_name.startswith("aten::") and matcher.match(full_name.split(".", 1)[0]):
            targets += [(full_name, key) for key in _computing_keys()
                        if torch._C._dispatch_has_kernel_for_dispatch_key(full_name, key)]
    return tuple(targets)


def refuse_operators(patterns, hits):
    """Register refusing kernels for every operator overload whose name matches a pattern.

    The refusal goes to every key with a kernel that computes (the CPU, CUDA, composite, nested
    tensor, quantized and sparse ones among them), so no tensor type reaches a real one.
    Returns the torch.library.Library holding them (keep it alive: dropping it unregisters them).
    """
    library = torch.library.Library("aten", "IMPL")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "overriding a previously registered kernel": the point
        for full_name, key in refusal_targets(tuple(patterns)):
            library.impl(full_name[len("aten::"):], _refusing_kernel(full_name.split(".", 1)[0], hits), key)
    return library


class _NamePatterns:
    """Adds "<kind> <name>" to hits when a name matches a pattern; one verdict per key, cached."""

    def __init__(self, kind, patterns, hits):
        self._kind = kind
        self._patterns = patterns
        self._hits = hits
        self._verdicts = {}          # key -> its name if forbidden, else ""

    def see(self, key, name_of):
        verdict = self._verdicts.get(key)
        if verdict is None:
            name = name_of(key)
            verdict = name if any(fnmatch.fnmatchcase(name, pattern) for pattern in self._patterns) else ""
            self._verdicts[key] = verdict
        if verdict:
            self._hits.add(f"{self._kind} {verdict}")


def _itself(name):
    return name


def _function_name(func):
    return resolve_name(func) or getattr(func, "__name__", "")


class _OperatorRecorder(TorchDispatchMode):
    def __init__(self, patterns, hits):
        super().__init__()
        self._names = _NamePatterns("operator", patterns, hits)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self._names.see(func._schema.name, _itself)
        return func(*args, **(kwargs or {}))


class _FunctionRecorder(TorchFunctionMode):
    def __init__(self, patterns, hits):
        super().__init__()
        self._names = _NamePatterns("function", patterns, hits)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self._names.see(func, _function_name)
        return func(*args, **(kwargs or {}))


class _AutogradRecorder(TorchFunctionMode):
    def __init__(self, where, hits):
        super().__init__()
        self._where = where
        self._hits = hits

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") in _AUTOGRAD_ENTRY_POINTS or (
                torch.is_grad_enabled() and any(isinstance(value, torch.Tensor) and value.requires_grad
                                                for value in (*args, *kwargs.values()))):
            self._hits.add(f"autograd inside {self._where}")
        return func(*args, **kwargs)


def resolve(dotted_name):
    """The object a dotted name such as "torch.nn.LayerNorm" refers to (ValueError if none)."""
    module_name, _, attribute = dotted_name.rpartition(".")
    while module_name:
        try:
            module = importlib.import_module(module_name)
            break
        except ImportError:
            module_name, _, parent = module_name.rpartition(".")
            attribute = f"{parent}.{attribute}"
    else:
        raise ValueError(f"cannot resolve {dotted_name!r}")
    value = module
    for part in attribute.split("."):
        value = getattr(value, part, None)
        if value is None:
            raise ValueError(f"cannot resolve {dotted_name!r}: {module_name} has no {attribute!r}")
    return value


class ForbiddenApiGuard:
    """Records forbidden API use while `watching()` is active. `hits` is a set of descriptions."""

    def __init__(self, operators=(), classes=(), autograd_in=(), functions=()):
        self.hits = set()
        self._operators = tuple(operators)
        self._functions = tuple(functions)
        self._classes = tuple(classes)
        self._autograd_in = tuple(autograd_in)
        self._active = False
        self._refusals = None

    def install(self):
        """Refuse the forbidden operators and wrap the forbidden classes' constructors.

        Call once, before importing student code.
        """
        if self._operators:
            self._refusals = refuse_operators(self._operators, self.hits)
        for dotted_name in self._classes:
            cls = resolve(dotted_name)
            original = cls.__init__

            @functools.wraps(original)
            def recording_init(instance, *args, __original=original, __name=dotted_name, **kwargs):
                if self._active:
                    self.hits.add(f"class {__name} (or a subclass of it)")
                return __original(instance, *args, **kwargs)

            cls.__init__ = recording_init

    def uninstall_refusals(self):
        """Give the forbidden operators their real kernels back (for the kit's own tests)."""
        if self._refusals is not None:
            self._refusals._destroy()
            self._refusals = None

    def guard_module(self, module):
        """Wrap each function named in autograd_in ("f" or "Class.method") to record autograd use."""
        for dotted_name in self._autograd_in:
            *owner_path, name = dotted_name.split(".")
            owner = module
            for part in owner_path:
                owner = getattr(owner, part, None)
            function = getattr(owner, name, None)
            if owner is None or not callable(function):
                continue
            watched = self._without_autograd(function, f"{module.__name__}.{dotted_name}")
            if isinstance(owner, type) and isinstance(owner.__dict__.get(name), staticmethod):
                watched = staticmethod(watched)
            setattr(owner, name, watched)

    def _without_autograd(self, function, where):
        @functools.wraps(function)
        def watched(*args, **kwargs):
            with _AutogradRecorder(where, self.hits):
                return function(*args, **kwargs)
        return watched

    @contextlib.contextmanager
    def watching(self):
        self._active = True
        try:
            with contextlib.ExitStack() as modes:
                if self._functions:
                    modes.enter_context(_FunctionRecorder(self._functions, self.hits))
                if self._operators and self._refusals is None:   # installed refusals record their own hits
                    modes.enter_context(_OperatorRecorder(self._operators, self.hits))
                yield
        finally:
            self._active = False
