"""A sweep's arguments, checked: ``fn`` resolved to a callable, the grid, the seeds, and the
parameters ``fn`` takes against those the grid and ``fixed`` give."""
import functools
import importlib
import inspect
import math
import numbers

import numpy as np

from .. import checks
from .experiments import EXPERIMENTS

RESERVED = ("seed", "error")
"""Names a grid may not sweep: the sweep's own dim and variable."""


def fn_name(func):
    """``"module:qualname"`` of a callable (the name a store's manifest pins)."""
    if isinstance(func, functools.partial):
        return f"partial({fn_name(func.func)})"
    module = getattr(func, "__module__", None) or "?"
    return f"{module}:{getattr(func, '__qualname__', type(func).__name__)}"


def resolve(fn):
    """``(callable, name)`` for ``fn``: a callable, a name in :data:`EXPERIMENTS`, or
    ``"module:function"`` (imported; the module must be importable on the workers too)."""
    if callable(fn):
        return fn, fn_name(fn)
    if not isinstance(fn, str):
        raise TypeError(f"fn must be a callable, an experiment name or 'module:function'; got {type(fn).__name__}")
    if fn in EXPERIMENTS:
        return EXPERIMENTS[fn], fn
    if ":" not in fn:
        raise ValueError(f"fn must be one of the experiments {sorted(EXPERIMENTS)} or 'module:function'; got {fn!r}")
    module, _, attr = fn.partition(":")
    try:
        obj = importlib.import_module(module)
    except ImportError as err:
        raise ValueError(f"fn {fn!r}: cannot import module {module!r}: {err}") from None
    try:
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise ValueError(f"fn {fn!r}: module {module!r} has no {attr!r}") from None
    if not callable(obj):
        raise TypeError(f"fn {fn!r} is not callable; got {type(obj).__name__}")
    return obj, fn


def plain_value(value, name):
    """A grid or fixed value as a plain JSON-able Python value (numbers, str, bool, None, lists)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite; got {value}")
        return value
    if isinstance(value, (list, tuple)):
        return [plain_value(v, f"{name}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{name} must be a number, a string, a bool, None or a list of them; "
                    f"got {type(value).__name__}")


def _kind(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, str):
        return "str"
    if isinstance(v, (int, float)):
        return "number"
    return "other"


def check_grid(grid):
    """``grid`` (dict name -> 1-D sequence of values) checked: ``[(name, [values])]`` in order.

    Names must be identifiers other than ``seed`` and ``error``; values numbers, strings or bools,
    one kind per axis, distinct, at least one.
    """
    if not isinstance(grid, dict):
        raise TypeError(f"grid must be a dict of parameter name -> list of values; got {type(grid).__name__}")
    if not grid:
        raise ValueError("grid must name at least one parameter; got an empty dict")
    axes = []
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"grid names must be Python identifiers; got {name!r}")
        if name in RESERVED:
            raise ValueError(f"grid may not sweep {name!r} (reserved: {RESERVED}); give seeds with seeds=")
        where = f"grid[{name!r}]"
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
            raise TypeError(f"{where} must be a list of values; got {type(values).__name__}")
        values = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
        if values.ndim != 1:
            raise ValueError(f"{where} must be a flat list of values; got shape {values.shape}")
        if values.size == 0:
            raise ValueError(f"{where} must hold at least one value; got an empty list")
        plain = []
        for i, v in enumerate(values.tolist()):
            v = plain_value(v, f"{where}[{i}]")
            if v is None or isinstance(v, list):
                raise TypeError(f"{where}[{i}] must be a number, a string or a bool; got {v!r}")
            plain.append(v)
        kinds = {_kind(v) for v in plain}
        if len(kinds) > 1:
            raise TypeError(f"{where} must hold values of one kind (numbers, strings or bools); "
                            f"got a mix of {sorted(kinds)}: {plain}")
        if len(set(plain)) != len(plain):
            raise ValueError(f"{where} must hold distinct values; got {plain}")
        axes.append((name, plain))
    return axes


def check_seeds(seeds):
    """``seeds``: an int n >= 1 (seeds 0..n-1) or a sequence of distinct ints >= 0 -> list of ints."""
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        return list(range(checks.integer(seeds, "seeds", low=1)))
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be an int (how many) or a list of ints >= 0; got {type(seeds).__name__}")
    out = [checks.integer(s, f"seeds[{i}]", low=0) for i, s in enumerate(seeds)]
    if not out:
        raise ValueError("seeds must hold at least one seed; got an empty list")
    if len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct; got {out}")
    return out


def check_parameters(func, grid_names, fixed, name="fn"):
    """Check that ``func`` accepts every grid and fixed parameter and ``seed`` by keyword, and
    that the grid, fixed and seed together give all its required parameters."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return  # builtins without a signature: nothing to check
    params = sig.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    keyword = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    both = sorted(set(grid_names) & set(fixed))
    if both:
        raise ValueError(f"parameter(s) {both} given both in grid and in fixed")
    if "seed" in fixed:
        raise ValueError("fixed may not set 'seed'; give seeds with seeds=")
    if not takes_any:
        for what, names in (("grid", grid_names), ("fixed", list(fixed)), ("seeds", ["seed"])):
            unknown = [n for n in names if n not in keyword]
            if unknown:
                raise ValueError(f"{what} names parameter(s) {unknown} that {name} does not take; "
                                 f"it takes {sorted(keyword)}")
    given = set(grid_names) | set(fixed) | {"seed"}
    missing = [n for n, p in params.items() if p.default is p.empty
               and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in given]
    if missing:
        raise ValueError(f"{name} needs parameter(s) {missing}: give them in grid or fixed")
    for k, v in fixed.items():  # checked here, before a cluster starts, not at every point
        kind = _kind(params[k].default) if k in params else "other"
        if kind != "other" and _kind(v) != kind:
            raise TypeError(f"fixed {k} must be a {kind} like {name}'s default {k}={params[k].default!r}; "
                            f"got {v!r}")
