"""Does an assignment fit Gradescope's container? Checked when its autograder.zip is built.

Gradescope kills a run that passes the assignment's timeout (default 10 minutes, at most 40) or
its container's memory (default 768 MB): the student then gets 0 and no feedback. So:
- the exercises' `time_budget`s (the most their student code may run) plus START_UP_SECONDS (Python,
  torch, the harness and the graders themselves) must fit the timeout;
- `sandbox.memory_mb` (the memory one worker may take) must fit the container's memory.
"""

DEFAULT_TIMEOUT_SECONDS = 600     # Gradescope's default timeout for an autograder run
DEFAULT_MEMORY_MB = 768           # Gradescope's default container memory ("Autograder Settings")
START_UP_SECONDS = 60             # starting Python, torch and the grader, and running the graders' own code


def needed_seconds(exercises):
    """The seconds an assignment of these exercises may take on Gradescope, at most."""
    return sum(exercise.time_budget for exercise in exercises) + START_UP_SECONDS


def limit_problems(course, exercises, timeout, memory_mb):
    """Why an assignment of `exercises` does not fit a container with `timeout` seconds and
    `memory_mb` MB, one message per problem naming the course.yml key; [] when it fits."""
    problems = []
    needed = needed_seconds(exercises)
    if needed > timeout:
        keys = " + ".join(f"exercises[{course.ids.index(e.id)}].time_budget ({e.time_budget:g})" for e in exercises)
        problems.append(f"{course.path.name}: {keys} + {START_UP_SECONDS} s to start = {needed:g} s exceeds the "
                        f"assignment's timeout (--timeout {timeout:g}): raise the timeout on Gradescope (at most "
                        "2400 s) and pass it as --timeout, or lower the time budgets")
    if course.sandbox.memory_mb > memory_mb:
        problems.append(f"{course.path.name}: sandbox.memory_mb ({course.sandbox.memory_mb}) exceeds the container's "
                        f"memory (--memory {memory_mb}): raise the memory in Gradescope's Autograder Settings and "
                        "pass it as --memory, or lower sandbox.memory_mb")
    return problems
