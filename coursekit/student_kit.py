"""What a released exercise folder holds besides the stub, the notebook and the public tests.

A student may receive the folder alone (nbgrader's release), so it carries what they need to
start: `requirements.txt` (the packages the notebook and the public tests use), a `conftest.py`
that turns a missing package or a file saved in another encoding into a message saying what to
do, and a "Getting started" paragraph at the end of the notebook's first cell.
"""

from importlib import resources

# The packages a student needs, with the kit's own lower bounds (a test checks they agree with
# pyproject.toml). PyTorch's CPU-only build is smaller by gigabytes: see GETTING_STARTED.
STUDENT_REQUIREMENTS = ("torch>=2.4", "torchvision>=0.19", "numpy>=1.24", "matplotlib>=3.7",
                        "scikit-learn>=1.3", "pytest>=8", "jupyter>=1.0", "ipykernel>=6")

CPU_WHEELS = "https://download.pytorch.org/whl/cpu"

GETTING_STARTED = """
**Getting started.** Work in a Python environment (a `.venv` folder) that has PyTorch and this
exercise's packages; set-up takes several minutes, once.

- *With the course repository*: at its root, run `make setup TORCH=cpu` (PyTorch's CPU-only
  build, a few hundred MB; plain `make setup` takes the multi-GB CUDA build, for NVIDIA GPUs).
  It may end with a harmless "Editable installation" warning. Then activate the environment:
  `source .venv/bin/activate` at the root, or `source ../../.venv/bin/activate` from this folder
  (Windows: `..\\..\\.venv\\Scripts\\activate`, or use the next way).
- *With this folder only*: create and activate an environment here, then install the packages:

  ```
  python3 -m venv .venv
  source .venv/bin/activate            # Windows: .venv\\Scripts\\activate
  python -m pip install torch torchvision --index-url {cpu_wheels}   # CPU-only: much smaller
  python -m pip install -r requirements.txt
  ```

Then, in this folder with the environment active (the prompt starts with `(.venv)`):
`jupyter lab {notebook}` opens this notebook, and `python -m pytest` runs the public sanity tests
(a good sign, not your grade). If the set-up cell below says `No module named 'torch'`, Jupyter was
started outside the environment: close it, activate, and start it again.

You write your code in `{module_file}` (saved as UTF-8, your editor's usual encoding); a few cells
of this notebook are yours too: replace their `raise NotImplementedError(...)` line with your
answer. Submit `{module_file}` and this notebook, never the `.venv` folder.
"""


def requirements_text():
    return "".join(f"{requirement}\n" for requirement in STUDENT_REQUIREMENTS)


def conftest_text(exercise):
    template = resources.files("coursekit.templates").joinpath("student_conftest.py").read_text(encoding="utf-8")
    placeholder = 'MODULE_FILE = "exercise.py"     # the file you write, beside this one'
    if placeholder not in template:
        raise ValueError("coursekit/templates/student_conftest.py lost its MODULE_FILE line")
    return template.replace(placeholder, f'MODULE_FILE = "{exercise.module_file}"     # the file you write, '
                                         "beside this one")


def getting_started_markdown(exercise):
    return GETTING_STARTED.format(cpu_wheels=CPU_WHEELS, notebook=f"{exercise.id}.ipynb",
                                  module_file=exercise.module_file)


def add_getting_started(notebook, exercise):
    """Append the getting-started paragraph to the notebook's first cell (a markdown cell)."""
    first = notebook.cells[0] if notebook.cells else None
    if first is None or first.cell_type != "markdown":
        raise ValueError(f"{exercise.id}.ipynb must open with a markdown cell (its introduction)")
    first.source = first.source.rstrip("\n") + "\n" + getting_started_markdown(exercise).rstrip("\n")
    return notebook
