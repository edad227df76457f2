"""Generate a student stub from a reference solution, and find solution code where it must not be.

In a solution file, the code a student writes sits between two marker lines:

    ### BEGIN SOLUTION: what the student implements here
    ...reference code...
    ### END SOLUTION

`make_stub` replaces each region with one line,
    raise NotImplementedError("<module>.<qualified name>: what the student implements here")
at the marker's indentation, where the qualified name is the function or method around the region.
Everything outside the regions (docstrings, signatures, argument checks) is kept as it is.
"""

import ast
import json
import re
from dataclasses import dataclass

BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION(?::\s*(?P<description>.*\S))?\s*$")
END = re.compile(r"^[ \t]*### END SOLUTION\s*$")
GENERATED_RAISE = re.compile(r'^[ \t]*raise NotImplementedError\((\n[ \t]*)?"\w+\.[\w.]+: .*\)$', re.MULTILINE)
MAX_LINE = 100
MIN_FINGERPRINT_LENGTH = 40


class SolutionMarkerError(ValueError):
    """The solution markers are unbalanced or misplaced; the message gives the line."""


@dataclass(frozen=True)
class SolutionRegion:
    begin: int          # 1-based line number of the BEGIN marker
    end: int            # 1-based line number of the END marker
    indent: str
    description: str
    body: tuple         # the reference lines between the markers

    @property
    def code_lines(self):
        return [line for line in self.body if line.strip() and not line.strip().startswith("#")]


def find_regions(source, filename="<solution>"):
    regions, open_marker = [], None
    lines = source.splitlines()
    for number, line in enumerate(lines, start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if open_marker is not None:
                raise SolutionMarkerError(f"{filename}:{number}: BEGIN SOLUTION inside the region "
                                          f"opened at line {open_marker[0]}")
            open_marker = (number, begin.group("indent"), begin.group("description") or "")
        elif end:
            if open_marker is None:
                raise SolutionMarkerError(f"{filename}:{number}: END SOLUTION without a BEGIN SOLUTION")
            first, indent, description = open_marker
            regions.append(SolutionRegion(first, number, indent, description, tuple(lines[first:number - 1])))
            open_marker = None
        elif "BEGIN SOLUTION" in line or "END SOLUTION" in line:
            raise SolutionMarkerError(f"{filename}:{number}: write markers as '### BEGIN SOLUTION: "
                                      "what to implement' and '### END SOLUTION' on lines of their own")
    if open_marker is not None:
        raise SolutionMarkerError(f"{filename}:{open_marker[0]}: BEGIN SOLUTION is never closed")
    return regions


def _enclosing_names(tree, line):
    """The qualified name of the innermost function around `line` (e.g. "BatchNorm1d.forward")."""
    best = []

    def visit(node, trail):
        nonlocal best
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if child.lineno <= line <= child.end_lineno:
                    path = trail + [child.name]
                    if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        best = path
                    visit(child, path)

    visit(tree, [])
    return ".".join(best)


def make_stub(source, module_name, filename="<solution>"):
    """The student's version of `source`: every solution region becomes a NotImplementedError."""
    regions = find_regions(source, filename)
    tree = ast.parse(source, filename)
    lines = source.splitlines()
    out, cursor = [], 0
    for region in regions:
        where = _enclosing_names(tree, region.begin)
        if not where:
            raise SolutionMarkerError(f"{filename}:{region.begin}: a solution region must sit inside "
                                      "a function or method")
        task = f"{module_name}.{where}"
        message = f"{task}: {region.description}" if region.description else f"{task}: implement this"
        out.extend(lines[cursor:region.begin - 1])
        out.extend(_raise_lines(region.indent, json.dumps(message, ensure_ascii=False)))
        cursor = region.end
    out.extend(lines[cursor:])
    stub = "\n".join(out) + "\n"
    ast.parse(stub, f"stub of {filename}")   # a marker in the wrong place gives broken Python
    return stub


def _raise_lines(indent, quoted_message):
    """The stub's raise statement, wrapped after the parenthesis when one line would be too long."""
    line = f"{indent}raise NotImplementedError({quoted_message})"
    if len(line) <= MAX_LINE:
        return [line]
    return [f"{indent}raise NotImplementedError(", f"{indent}    {quoted_message})"]


def fill_stub(stub, solution):
    """Put the solution's regions back into a stub: what a student who solved everything submits."""
    regions = find_regions(solution)
    raises = list(GENERATED_RAISE.finditer(stub))
    if len(raises) != len(regions):
        raise SolutionMarkerError(f"the stub has {len(raises)} tasks, the solution {len(regions)}")
    for match, region in reversed(list(zip(raises, regions))):
        stub = stub[:match.start()] + "\n".join(region.body) + stub[match.end():]
    return stub


def fingerprints_of(lines):
    """What identifies these solution lines in another file.

    A long line (MIN_FINGERPRINT_LENGTH characters or more, stripped) on its own, and every pair
    of consecutive code lines: short idioms such as `with torch.no_grad():` are common in
    released notebooks, but two solution lines in a row are a leak.
    """
    code = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    singles = {line for line in code if len(line) >= MIN_FINGERPRINT_LENGTH}
    pairs = {f"{first}\n{second}" for first, second in zip(code, code[1:])}
    return singles | pairs


def solution_fingerprints(source):
    """Fingerprints (see fingerprints_of) of every solution region in a solution file."""
    return set().union(*(fingerprints_of(region.body) for region in find_regions(source)))


def find_leaks(text, fingerprints):
    """Solution markers or fingerprinted solution code found in `text`, as readable strings."""
    leaks = []
    previous = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if "BEGIN SOLUTION" in stripped or "END SOLUTION" in stripped:
            leaks.append(f"line {number}: a solution marker")
        elif stripped in fingerprints:
            leaks.append(f"line {number}: solution code {stripped[:60]!r}")
        elif previous is not None and f"{previous}\n{stripped}" in fingerprints:
            leaks.append(f"lines {number - 1}-{number}: solution code {previous[:30]!r} / {stripped[:30]!r}")
        if stripped and not stripped.startswith("#"):
            previous = stripped
    return leaks
