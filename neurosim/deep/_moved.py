"""The old import paths of the gradient-trained families, kept as thin aliases.

``neurosim.feedforward`` (and its modules), ``neurosim.recurrent``, ``neurosim.attention`` and
``neurosim.memory`` moved into :mod:`neurosim.deep`; each old module is a few lines that call
:func:`alias`, which warns once per import and hands back the new module itself (so the old
path gives the very same objects).
"""
import importlib
import os
import sys
import warnings

#: old module -> new module
MOVED = {
    "neurosim.feedforward": "neurosim.deep",
    **{f"neurosim.feedforward.{name}": f"neurosim.deep.{name}"
       for name in ("perceptron", "mlp", "rbf", "cnn", "deconv", "residual", "autoencoder", "gan",
                    "dcign", "capsnet")},
    "neurosim.recurrent": "neurosim.deep.rnn",
    "neurosim.attention": "neurosim.deep.transformer",
    "neurosim.memory": "neurosim.deep.ntm",
}

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _internal(filename):
    """The import system's frames, which ``warnings`` itself skips (and does not count)."""
    return "importlib" in filename and "_bootstrap" in filename


def _skipped(filename):
    """Frames between the user's import and the warning: the import system, the lazy
    ``neurosim.__getattr__`` and the alias modules."""
    if _internal(filename) or filename == importlib.__file__:
        return True
    path = os.path.abspath(filename)
    return path == os.path.join(_PACKAGE, "__init__.py") or path == os.path.abspath(__file__) \
        or path.startswith(os.path.join(_PACKAGE, "feedforward") + os.sep) \
        or path in {os.path.join(_PACKAGE, f"{name}.py") for name in ("recurrent", "attention",
                                                                      "memory")}


def warn(old):
    """Warn that ``old`` moved to its new module, attributed to the line that imported it."""
    frame, level = sys._getframe(1), 2
    while frame is not None and _skipped(frame.f_code.co_filename):
        level += not _internal(frame.f_code.co_filename)
        frame = frame.f_back
    warnings.warn(f"{old} moved to {MOVED[old]}; import it from there ({old} is a deprecated "
                  "alias and will be removed)", DeprecationWarning, stacklevel=level)


def alias(old):
    """Replace the module ``old`` (being imported) by its new module, with a warning."""
    module = importlib.import_module(MOVED[old])
    warn(old)
    sys.modules[old] = module
    return module
