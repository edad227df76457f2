"""The requirements.txt of an autograder upload: the project's dependencies, pinned to this environment.

Each dependency of pyproject.toml's [project] table is pinned to the version installed here (read
with importlib.metadata), so the container grades with the versions the graders were tested with.
A local version label (`2.5.1+cu124`) is dropped: `torch==2.5.1` is met by the CPU-only `2.5.1+cpu`
that setup.sh installs first. A dependency whose environment marker excludes this machine keeps
its own specifier and marker.
"""

import importlib.metadata
import sys
from pathlib import Path

from packaging.requirements import Requirement

from coursekit import paths


class RequirementsError(RuntimeError):
    """A dependency is not installed here, so it cannot be pinned."""


def declared_dependencies(pyproject=paths.REPO_ROOT / "pyproject.toml"):
    """The [project] dependencies of pyproject.toml, as requirement strings."""
    if sys.version_info >= (3, 11):
        import tomllib
        return list(tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))["project"]["dependencies"])
    requires = importlib.metadata.requires("dl-regularization-kit") or []     # Python 3.10: no tomllib
    return [line for line in requires if "extra ==" not in line]


def pinned_line(text):
    """One requirements.txt line: `name[extras]==installed; marker`."""
    requirement = Requirement(text)
    marker = f"; {requirement.marker}" if requirement.marker else ""
    if requirement.marker and not requirement.marker.evaluate():
        return text
    try:
        version = importlib.metadata.version(requirement.name)
    except importlib.metadata.PackageNotFoundError:
        raise RequirementsError(f"{requirement.name} is not installed in this environment, so it cannot be "
                                "pinned: run `make setup` first") from None
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    return f"{requirement.name}{extras}=={version.split('+')[0]}{marker}"


def requirements_text(dependencies=None):
    """requirements.txt for the container, one pinned dependency a line."""
    lines = [pinned_line(text) for text in (declared_dependencies() if dependencies is None else dependencies)]
    return "# The kit's dependencies, pinned to the environment that built this upload.\n" + "\n".join(lines) + "\n"
