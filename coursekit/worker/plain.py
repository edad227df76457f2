"""Turn whatever student code returned into plain data that the wire may carry.

Tensors become detached, contiguous CPU copies of the base Tensor class (a subclass could override
comparisons). Containers and scalars are copied. Anything else becomes {"__opaque__": type name},
so the grader can say "expected a Tensor, got MyThing" instead of failing to read the reply.
"""

import math
import numbers

import torch

_MAX_DEPTH = 20


def opaque(value):
    kind = type(value)
    return {"__opaque__": f"{kind.__module__}.{kind.__qualname__}"}


def to_plain(value, depth=0):
    if depth > _MAX_DEPTH:
        return opaque(value)
    if isinstance(value, torch.Tensor):
        if value.layout != torch.strided or value.is_nested:
            return opaque(value) | {"layout": str(value.layout), "nested": bool(value.is_nested)}
        return value.detach().as_subclass(torch.Tensor).to("cpu", copy=True).contiguous()
    if value is None or isinstance(value, (bool, str, torch.dtype)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if not math.isnan(number) else math.nan
    if isinstance(value, torch.Size):
        return tuple(int(size) for size in value)
    if isinstance(value, (list, tuple)):
        items = [to_plain(item, depth + 1) for item in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {str(key): to_plain(item, depth + 1) for key, item in value.items()}
    if type(value).__module__ == "numpy" and hasattr(value, "shape"):
        return to_plain(torch.as_tensor(value), depth + 1)
    return opaque(value)
