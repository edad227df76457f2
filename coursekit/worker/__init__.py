"""The code that runs inside the untrusted worker process, beside the student's module.

Everything in this package imports only the standard library, torch and pyseccomp, because the harness copies
it into the worker's scratch folder: the worker never imports the rest of the kit.
"""
