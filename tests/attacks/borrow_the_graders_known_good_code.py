"""Finds the scenarios module the worker imported and uses its correct implementations as its own: an
alias (batch_norm), a call through under a false module name (batch_norm_backward), borrowed methods
(BatchNorm1d), and the toolkit's own lending (BatchNormFunction)."""
import sys as _sys

__name__ = "not_the_students_module"      # the check must not trust names the file sets


def _graders(name):
    for module in list(_sys.modules.values()):
        if getattr(module, "__name__", "").startswith("_kit_scenarios") and hasattr(module, name):
            return getattr(module, name)
    return None


if _graders("_known_good_batch_norm") is not None:
    batch_norm = _graders("_known_good_batch_norm")


def batch_norm_backward(grad_out, x, weight=None, eps=1e-5):
    return _graders("_known_good_batch_norm_backward")(grad_out, x, weight, eps)


if _graders("_KnownGoodBatchNorm1d") is not None:
    class BatchNorm1d(BatchNorm):
        __init__ = _graders("_KnownGoodBatchNorm1d").__init__
        forward = _graders("_KnownGoodBatchNorm1d").forward


def _lend_to_myself():
    toolkit = _sys.modules.get("_kit_worker.toolkit")
    if toolkit is not None:
        with toolkit.substituted(_sys.modules[__spec__.name], batch_norm=_graders("_known_good_batch_norm")):
            pass


class BatchNormFunction(BatchNormFunction):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        _lend_to_myself()
        return _graders("_known_good_batch_norm")(x, None, None, weight, bias, True, 0.1, eps)
