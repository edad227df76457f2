"""The order in which a class's runs start, so that every lane stays busy to the end."""


def plan(submissions, exercises, jobs):
    """The runs that grade `submissions`: [(submission, [exercises])], in the order to start them.

    Whole submissions first (pytest starts once per student), then each exercise of the last
    `jobs` students on its own, so that the runs still going at the end are short and every
    lane is busy until then (a lone submission's exercises all run side by side).
    """
    split = min(jobs, len(submissions))
    whole = [(submission, list(exercises)) for submission in submissions[:len(submissions) - split]]
    return whole + [(submission, [exercise]) for submission in submissions[len(submissions) - split:]
                    for exercise in exercises]
