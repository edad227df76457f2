"""The trusted side of grading: it starts workers, checks what they return, and scores."""
