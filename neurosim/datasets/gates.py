"""Truth tables of the two-input logic gates: the perceptron's classic test bench (XOR and XNOR
are the ones no single threshold unit can compute)."""
import numpy as np

GATES = {"AND": (0, 0, 0, 1), "OR": (0, 1, 1, 1), "NAND": (1, 1, 1, 0), "NOR": (1, 0, 0, 0),
         "XOR": (0, 1, 1, 0), "XNOR": (1, 0, 0, 1)}


def logic_gate(name):
    """The truth table of the gate ``name`` (one of :data:`GATES`, any case).

    Returns
    -------
    X : ndarray, float64, shape (4, 2)
        Inputs (0, 0), (0, 1), (1, 0), (1, 1).
    y : ndarray, int64, shape (4,)
        The gate's output, 0 or 1, for each row of ``X``.
    """
    key = name.upper() if isinstance(name, str) else name
    if key not in GATES:
        raise ValueError(f"name must be one of {tuple(GATES)}; got {name!r}")
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return X, np.array(GATES[key], dtype=np.int64)
