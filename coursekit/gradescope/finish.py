"""results.json, completed after grading: the layout's notes, or a document of its own when none was written.

The notes of submission_layout.py (a missing, misnamed or duplicated file) go in the top-level
`output`, which Gradescope shows the student above the tests, after the grader's summary; in
Markdown when the output is (file names are the student's: escaped). When the grader wrote no
results.json (it failed before collecting its graders), one is written that says so, worth 0
points, so that the student sees a message rather than Gradescope's "the autograder failed".

    python -m coursekit.gradescope.finish RESULTS --notes NOTES
"""

import argparse
import json
import sys
from pathlib import Path

from coursekit.atomic_write import write_json_atomically
from coursekit.grading.markdown_text import escaped

GRADER_FAILED = ("The autograder could not grade this submission (an error in the grader, not in your code): "
                 "please tell the course staff.")


def about_upload(notes, output_format):
    """The notes (lines) as a list under a heading, in `output_format` ("md", or else plain text)."""
    if output_format == "md":
        return "**About your submission**\n\n" + "\n".join(f"- {escaped(note)}" for note in notes)
    return "About your submission:\n" + "\n".join(f"- {note}" for note in notes)


def finish(results_path, notes):
    """Add `notes` (a list of lines) to the results.json at results_path, or write one that explains."""
    results_path = Path(results_path)
    try:
        document = json.loads(results_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        document = {"score": 0.0, "output": GRADER_FAILED, "tests": []}
    if notes:
        about = about_upload(notes, document.get("output_format"))
        document["output"] = "\n\n".join(part for part in (document.get("output"), about) if part)
    write_json_atomically(results_path, document)
    return document


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m coursekit.gradescope.finish", description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--notes", help="a text file of notes for the student, one a line")
    args = parser.parse_args(argv)
    notes_file = Path(args.notes) if args.notes else None
    notes = notes_file.read_text(encoding="utf-8").splitlines() if notes_file and notes_file.is_file() else []
    finish(args.results, [note for note in notes if note.strip()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
