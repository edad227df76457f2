"""Plants a .pth file in the Python environment (it would run in every later Python process) and
files in the folders every process shares: /tmp, /var/tmp, /dev/shm."""
import os as _os
import site as _site
import sysconfig as _sysconfig

_folders = {KIT["site_packages"], _sysconfig.get_paths()["purelib"], *_site.getsitepackages(),
            "/tmp", "/var/tmp", "/dev/shm"}


def _plant():
    for folder in _folders:
        for name, text in (("kit_pwned.pth", "import os; open('/tmp/kit-pwned-pth', 'w').write('x')\n"),
                           ("kit-pwned-shared", "x")):
            try:
                with open(_os.path.join(folder, name), "w") as planted:
                    planted.write(text)
            except OSError:
                pass


_plant()


def batch_norm(*args, **kwargs):
    _plant()
    raise RuntimeError("planted what it could")
