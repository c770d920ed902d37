"""Error measures shared by the families (reservoirpy's ``observables`` in one small module).

All take ``y_true`` and ``y_pred`` of the same shape (any rank; time along axis 0) and reduce
over everything, returning a float.
"""
import numpy as np

from . import checks


def _pair(y_true, y_pred):
    y_true = checks.array(y_true, "y_true")
    y_pred = checks.array(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape; got {y_true.shape} and {y_pred.shape}")
    return y_true, y_pred


def mse(y_true, y_pred):
    """Mean squared error."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean((y_true - y_pred) ** 2))


def rmse(y_true, y_pred):
    """Root mean squared error."""
    return float(np.sqrt(mse(y_true, y_pred)))


def nrmse(y_true, y_pred, norm="std"):
    """Normalised RMSE: RMSE divided by ``norm`` of ``y_true``: "std" (ddof 0, the default),
    "var", "range" (max - min) or "mean" (of the absolute value)."""
    checks.choice(norm, "norm", ("std", "var", "range", "mean"))
    y_true, y_pred = _pair(y_true, y_pred)
    scale = {"std": np.std, "var": np.var, "range": np.ptp,
             "mean": lambda a: np.mean(np.abs(a))}[norm](y_true)
    if scale == 0:
        raise ValueError(f"nrmse: the {norm} of y_true is 0; the error cannot be normalised")
    return rmse(y_true, y_pred) / float(scale)


def rsquare(y_true, y_pred):
    """Coefficient of determination R^2 = 1 - SS_res / SS_tot (over all elements)."""
    y_true, y_pred = _pair(y_true, y_pred)
    ss_tot = np.sum((y_true - y_true.mean()) ** 2)
    if ss_tot == 0:
        raise ValueError("rsquare: y_true is constant; R^2 is undefined")
    return float(1.0 - np.sum((y_true - y_pred) ** 2) / ss_tot)


def accuracy(labels, predicted):
    """Fraction of equal entries of two 1-D label arrays."""
    labels = checks.array(labels, "labels", ndim=1, dtype=None)
    predicted = checks.array(predicted, "predicted", ndim=1, dtype=None)
    if labels.shape != predicted.shape:
        raise ValueError(f"labels and predicted must have the same shape; got {labels.shape} and {predicted.shape}")
    return float(np.mean(labels == predicted))
