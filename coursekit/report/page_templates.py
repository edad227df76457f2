"""The Jinja2 environment the report's pages are rendered with (templates/), escaping every value.

Every text a page shows may come from a student (a folder name, an exception message quoted in a
failure's reason), so HTML autoescaping is on for every template; the pages also forbid every
network request in their Content-Security-Policy.
"""

import statistics
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).parent / "templates"


def _points(value):
    return f"{round(value, 2):g}"


def _seconds(value):
    return f"{value:.1f} s"


ENVIRONMENT = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                 keep_trailing_newline=True)
ENVIRONMENT.filters.update(points=_points, seconds=_seconds, median=statistics.median)


def render(name, **context):
    """Render templates/<name> with the shared style sheet."""
    style = (TEMPLATES / "style.css.j2").read_text(encoding="utf-8")
    return ENVIRONMENT.get_template(name).render(style=style, **context)
