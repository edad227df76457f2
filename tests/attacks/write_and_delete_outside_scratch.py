"""Changes, deletes and creates files outside its scratch folder, directly and through links."""
import os as _os
import shutil as _shutil

_victims = KIT["victims"]
_attempts = [
    lambda: open(_os.path.join(_victims, "victim.txt"), "w").write("changed"),
    lambda: _os.remove(_os.path.join(_victims, "keep.txt")),
    lambda: open(_os.path.join(_victims, "pwned-write"), "w").write("x"),
    lambda: open("/tmp/kit-pwned-write", "w").write("x"),
    lambda: open(_os.path.join(KIT["repo"], "pwned.txt"), "w").write("x"),
    lambda: open(_os.path.join(KIT["repo"], "solutions", "batchnorm", "batchnorm.py"), "a").write("# x"),
    lambda: open(_os.path.join(KIT["repo"], "autograder", "test_batchnorm.py"), "w").write(""),
    lambda: _shutil.rmtree(_os.path.join(KIT["repo"], "autograder")),
    lambda: _os.symlink(_victims, "victims-link") or open("victims-link/victim.txt", "w").write("changed"),
    lambda: _os.symlink("/", "root-link") or open("root-link/tmp/kit-pwned-link", "w").write("x"),
    lambda: _os.chmod(_os.path.join(_victims, "victim.txt"), 0o777),
]


def _attack():
    for attempt in _attempts:
        try:
            attempt()
        except OSError:
            pass
    raise RuntimeError("done")


_attack()


def batch_norm(*args, **kwargs):
    _attack()
