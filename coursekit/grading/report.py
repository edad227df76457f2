"""The per-exercise summary table printed at the end of a grading run."""


def summary_lines(scores, outcomes):
    width = max([len("Exercise")] + [len(score.exercise) for score in scores])
    lines = [f"{'Exercise':<{width}}  {'Score':>7}  {'Max':>5}  Tests passed",
             f"{'-' * width}  {'-' * 7}  {'-' * 5}  ------------"]
    for score in scores:
        lines.append(f"{score.exercise:<{width}}  {score.score:>7g}  {score.max_score:>5g}  "
                     f"{score.passed}/{score.tests}")
    total, maximum = sum(s.score for s in scores), sum(s.max_score for s in scores)
    lines.append(f"{'TOTAL':<{width}}  {total:>7g}  {maximum:>5g}")
    lost = [outcome for outcome in outcomes if not outcome.passed]
    if lost:
        lines.append("")
        lines.append("Points lost:")
        for outcome in lost:
            first_line = outcome.feedback.splitlines()[0] if outcome.feedback else outcome.status
            lines.append(f"  -{outcome.max_score:g} {outcome.where}: {outcome.name}"
                         f" [{outcome.status}] {first_line}")
    return lines
