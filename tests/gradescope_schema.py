"""Gradescope's results.json as a JSON Schema, and schema_violations(document) for the tests.

From Gradescope's "Autograder Specifications"
(https://gradescope-autograders.readthedocs.io/en/latest/specs/): "Output format" (the fields),
"Controlling test case visibility", "Test case status" and "Output String Formatting" (the values).
Every field listed there has its type and allowed values, and no other field is allowed, since
Gradescope would ignore a misspelt one in silence. Two departures: `leaderboard` is left out (the
kit does not use it), and a top-level `max_score` is allowed, which the specification does not
list: the kit writes it for its own readers (README, grade-class, these tests).

jsonschema comes with nbformat (through nbgrader), so the kit needs no dependency of its own.
"""

from jsonschema import Draft202012Validator

FORMATS = ["text", "html", "simple_format", "md", "ansi"]              # "Output String Formatting"
VISIBILITIES = ["hidden", "after_due_date", "after_published", "visible"]
STATUSES = ["passed", "failed"]                                         # "Test case status"

_TEXT = {"type": "string"}
_POINTS = {"type": "number"}

TEST = {
    "type": "object",
    "properties": {
        "score": _POINTS,                   # required unless the document has a top-level score
        "max_score": _POINTS,
        "status": {"enum": STATUSES},       # default: passed when score == max_score
        "name": _TEXT,
        "name_format": {"enum": FORMATS},
        "number": _TEXT,                    # e.g. "1.1"; Gradescope sorts the tests by it
        "output": _TEXT,
        "output_format": {"enum": FORMATS},
        "tags": {"type": "array", "items": _TEXT},
        "visibility": {"enum": VISIBILITIES},
        "extra_data": {"type": "object"},
    },
    "additionalProperties": False,
}

RESULTS = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "score": _POINTS,                   # overrides the tests' total when given
        "max_score": _POINTS,               # not in the specification: see the module's docstring
        "execution_time": {"type": "number", "minimum": 0},     # seconds
        "output": _TEXT,
        "output_format": {"enum": FORMATS},                     # default: simple_format
        "test_output_format": {"enum": FORMATS},                # default: text
        "test_name_format": {"enum": FORMATS},                  # default: text
        "visibility": {"enum": VISIBILITIES},
        "stdout_visibility": {"enum": VISIBILITIES},
        "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": TEST},
    },
    "additionalProperties": False,
    # "score": optional at the top level, but then required on every test
    "if": {"not": {"required": ["score"]}},
    "then": {"required": ["tests"], "properties": {"tests": {"items": {"required": ["score"]}}}},
}

_VALIDATOR = Draft202012Validator(RESULTS)


def schema_violations(document):
    """Where `document` departs from RESULTS: "path: message" strings ("" is the top level), in path order."""
    errors = sorted(_VALIDATOR.iter_errors(document), key=lambda error: list(map(str, error.absolute_path)))
    return [f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in errors]
