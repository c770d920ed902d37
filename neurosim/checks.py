"""Argument checks shared by every family: each raises a ``TypeError`` or ``ValueError`` that
names the argument, what was expected and what was given."""
import numbers
import os

import numpy as np


def array(x, name, *, ndim=None, shape=None, dtype=np.float64, finite=True, empty=False):
    """``x`` as a C-contiguous array of ``dtype`` after checking its rank, shape and values.

    ``ndim`` may be an int or a tuple of allowed ranks; ``shape`` a tuple with ``None`` for
    free axes. Non-numeric or complex input is a ``TypeError``; NaN or inf (when ``finite``) a
    ``ValueError``, and so is an empty array unless ``empty`` (an empty list is then float64).
    """
    if type(x).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{name} must be a dense array; got a scipy.sparse {type(x).__name__} (sparse input "
                        "is not supported: convert it with .toarray())")
    if x is None:
        raise TypeError(f"{name} must be an array; got None")
    try:
        a = np.asarray(x)
    except Exception as err:  # ragged nested lists and the like
        raise ValueError(f"{name} must be an array; could not convert it: {err}") from err
    if empty and a.size == 0 and a.dtype == object:  # [] or [[], []]
        a = a.astype(np.float64)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise TypeError(f"{name} must be numeric; got an array of dtype {a.dtype}")
    if np.iscomplexobj(a):
        raise TypeError(f"{name} must be real; got an array of dtype {a.dtype} (complex values "
                        "would silently lose their imaginary part)")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if a.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}; got shape {a.shape}")
    if shape is not None:
        if a.ndim != len(shape) or any(s is not None and s != t for s, t in zip(shape, a.shape)):
            axes = ["*" if s is None else str(s) for s in shape]
            want = "(" + ", ".join(axes) + ("," if len(axes) == 1 else "") + ")"
            raise ValueError(f"{name} must have shape {want}; got {a.shape}")
    if a.size == 0 and not empty:
        raise ValueError(f"{name} must not be empty; got shape {a.shape}")
    if finite and np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite; it holds NaN or inf")
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    return np.ascontiguousarray(a)


def labels(y, name, n=None):
    """Class labels ``y`` as int64 (k,): integers, booleans or floats that are whole numbers
    (``2.0`` is class 2, as labels read from a float array are); any other float is a
    ``ValueError`` naming ``name``. ``n``: the number of samples the labels must match."""
    a = array(y, name, ndim=1, dtype=None)
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} must hold one label per sample ({n}); got {a.shape[0]}")
    if a.dtype.kind == "f":
        whole = a == np.rint(a)
        if not whole.all():
            raise ValueError(f"{name} must hold class labels (whole numbers); got {a[~whole][0].item()!r}")
    return a.astype(np.int64)


def scalar(x, name, *, low=None, high=None, low_open=False, high_open=False):
    """``x`` as a float after checking it is a finite real number in the given range."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {type(x).__name__}")
    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite; got {x}")
    if low is not None and (x < low or (low_open and x == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}; got {x}")
    if high is not None and (x > high or (high_open and x == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}; got {x}")
    return x


def integer(x, name, *, low=None, high=None):
    """``x`` as an int after checking it is an integer in ``[low, high]``."""
    if type(x) is int and (low is None or x >= low) and (high is None or x <= high):
        return x  # (the common case, without the ~0.4 us of the ABC check below)
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {type(x).__name__}")
    x = int(x)
    if low is not None and x < low:
        raise ValueError(f"{name} must be >= {low}; got {x}")
    if high is not None and x > high:
        raise ValueError(f"{name} must be <= {high}; got {x}")
    return x


def choice(x, name, options):
    """``x`` after checking it is one of ``options``."""
    if x not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}; got {x!r}")
    return x


def available_memory():
    """Bytes of memory available now: ``MemAvailable`` of ``/proc/meminfo`` (free memory and
    what the kernel can reclaim without swapping), else the free pages; where neither can be
    read, a large number (nothing is refused)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - neither Linux nor POSIX
        return 1 << 62


def memory(nbytes, what):
    """``nbytes`` (an estimate of what ``what`` allocates) after checking that it fits in the
    memory available now: else a ``ValueError`` naming ``what``, the bytes needed and the bytes
    available, raised before anything is allocated (never a ``MemoryError`` minutes later).

    Families count the arrays a model or a run holds at once (weights, states, one chunk of
    records), not a run's whole records: :class:`neurosim.record.Run` streams those to disk
    when they would not fit."""
    nbytes = int(nbytes)
    free = available_memory()
    if nbytes > free:
        raise ValueError(f"{what} needs about {nbytes:,} bytes of memory; {free:,} are available")
    return nbytes


def sparse_real(M, name):
    """``M`` (a scipy.sparse matrix) after checking that it holds real numbers: a complex or
    non-numeric one is a ``TypeError`` (converting it would drop the imaginary part)."""
    real = np.issubdtype(M.dtype, np.number) or M.dtype == bool
    if not real or np.issubdtype(M.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers; got a sparse matrix of dtype {M.dtype}")
    return M
