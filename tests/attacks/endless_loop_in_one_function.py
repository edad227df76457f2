"""A correct submission whose batch_norm_backward never returns: only the tests calling it may fail."""


def batch_norm_backward(grad_out, x, weight=None, eps=1e-5):
    while True:
        pass
