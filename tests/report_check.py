"""Grade a generated class, then open its report in headless Chromium: offline, every figure drawn.

    python tests/report_check.py [--students 30] [--out build/report-check] [--readme-image PATH]
    (make report-check)

The class (tests/demo_class.py) mixes reference solutions, untouched stubs and catalogued mistakes,
a few per exercise so that several students share each; it is graded by `python -m coursekit
grade-class`, which writes the report. The page must make no network request, every figure must
decode and be painted. The whole page's screenshot is written to OUT/report.png; --readme-image
also writes its top (the overview and the first exercise), as the README shows it.
"""

import argparse
import io
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from coursekit import paths  # noqa: E402
from coursekit.config import load_course  # noqa: E402
from coursekit.report.plots import BAR_COLOUR  # noqa: E402

from demo_class import generate_class  # noqa: E402
from report_browser import STYLE_FONT, rendering_problems, visit  # noqa: E402

README_IMAGE_HEIGHT = 1500


def readme_image(screenshot, path):
    from PIL import Image
    image = Image.open(io.BytesIO(screenshot)).convert("RGB")
    top = image.crop((0, 0, image.width, min(README_IMAGE_HEIGHT, image.height)))
    path.parent.mkdir(parents=True, exist_ok=True)
    top.quantize(colors=64).save(path, optimize=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "report-check")
    parser.add_argument("--readme-image", type=Path, help="also write the page's top here (a PNG)")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    counts = generate_class(args.out / "class", args.students, common_mistakes=4)
    print(f"class: {args.students} students, exercise files: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    subprocess.run([sys.executable, "-m", "coursekit", "grade-class", str(args.out / "class"),
                    "--out", str(args.out / "grades"), "--no-progress"], cwd=ROOT, check=True)
    report = args.out / "grades" / "report.html"
    page = visit(report)
    (args.out / "report.png").write_bytes(page.screenshot)
    if args.readme_image:
        readme_image(page.screenshot, args.readme_image)
    figures = len(load_course(paths.COURSE_FILE).exercises) + 1
    problems = rendering_problems(page, figures=figures, colour=BAR_COLOUR, font=STYLE_FONT)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print(f"{report}: {len(page.requests)} request(s), all local; {figures} figures decoded and drawn; "
          f"screenshot {args.out / 'report.png'}" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
