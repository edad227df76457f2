"""Text shown literally in Markdown (Gradescope's output_format "md"): escaped prose, code spans, code blocks.

Gradescope renders "some basic markdown" without naming a dialect, so these use only what
Markdown.pl, CommonMark and GitHub's dialect read the same way:
  - prose: \\ ` * _ [ ] are backslash-escaped; & < > | ~ become character references (HTML,
    tables, strikethrough), and so does a first character that would start a heading, list, quote
    or rule (# + - =, or the . or ) after leading digits); lines keep their breaks;
  - code spans: delimited by one backtick more than the longest run inside;
  - code blocks: indented by four spaces, not fenced (fences are not basic Markdown), so nothing
    inside needs escaping and backticks cannot end the block early.
"""

import html
import re

_BACKSLASHED = "\\`*_[]"
_REFERENCES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "&#124;", "~": "&#126;"}
_INLINE = re.compile("[" + re.escape(_BACKSLASHED + "".join(_REFERENCES)) + "]")
_BLOCK_START = re.compile(r"^([#+=\-]|\d+[.)])")     # "# x", "- x", "===", "1. x", "2) x"
_HARD_BREAK = "  \n"                                  # two spaces, then the newline
CODE_INDENT = "    "                                  # what makes a line part of a code block


def _escaped_line(line):
    line = _INLINE.sub(lambda match: _REFERENCES.get(match[0]) or "\\" + match[0], line.strip())
    return _BLOCK_START.sub(lambda match: f"{match[1][:-1]}&#{ord(match[1][-1])};", line)


def escaped(text):
    """`text` as Markdown prose that renders as exactly its characters; each line stays a line.

    Leading and trailing spaces of each line are dropped (four would start a code block).
    """
    return _HARD_BREAK.join(_escaped_line(line) for line in text.splitlines())


def unescaped(markdown):
    """The text `escaped` was given, from what it wrote (for Markdown written by this module only)."""
    text = re.sub(r"\\([\\`*_\[\]])", r"\1", markdown.replace(_HARD_BREAK, "\n"))
    return html.unescape(text)


def code_span(text):
    """`text` (one line) as an inline code span: shown as it is, in a fixed-width font."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def code_block(text):
    """`text` as a code block: every character shown as it is, its lines and their alignment kept.

    A code block cannot interrupt a paragraph: put a blank line before it (and after it).
    """
    return "\n".join(f"{CODE_INDENT}{line}" if line.strip() else "" for line in text.splitlines())
