"""Where a submission keeps each exercise's file: `<root>/<id>/<id>.py` or `<root>/<id>.py`."""

import io
import tokenize
from pathlib import Path

MAX_SOURCE_BYTES = 4 << 20     # far above any exercise's source; read here, in the grading process


def candidate_paths(exercise):
    """Where a submission may keep the exercise's file, relative to its folder."""
    return [Path(exercise.id) / exercise.module_file, Path(exercise.module_file)]


def encoding_problem(path, shown_name):
    """None when Python can read the file's text (UTF-8, or the encoding it declares); else why not."""
    with open(path, "rb") as stream:
        data = stream.read(MAX_SOURCE_BYTES + 1)
    if len(data) > MAX_SOURCE_BYTES:
        return f"{shown_name} is larger than {MAX_SOURCE_BYTES >> 20} MiB: submit the exercise's source file only"
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:                  # undecodable first lines, or an unknown declared encoding
        encoding = "utf-8"
    try:
        data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return (f"{shown_name} is not valid UTF-8 text (byte 0x{data[error.start]:02x} on line {line}): "
                "save it as UTF-8 in your editor (\"Save with Encoding\" > \"UTF-8\") and submit it again")
    return None

def locate_module_file(root, exercise):
    """(path, None) for the exercise's graded file in the folder `root`, or (None, why not)."""
    root = Path(root)
    found = [root / candidate for candidate in candidate_paths(exercise) if (root / candidate).is_file()]
    shown = f"{root.name or root}/"
    if not found:
        return None, (f"{exercise.module_file} was not found in the submission: expected "
                      f"{exercise.id}/{exercise.module_file} or {exercise.module_file} in {shown}")
    if len(found) > 1:
        return None, (f"the submission has both {exercise.id}/{exercise.module_file} and "
                      f"{exercise.module_file} in {shown}: keep only the one you want graded")
    problem = encoding_problem(found[0], exercise.module_file)
    return (None, problem) if problem else (found[0], None)
