"""Reverse-mode automatic differentiation over NumPy arrays.

A :class:`Tensor` holds an array and, when a gradient is wanted, the op that made it: its
parents and a backward function mapping the output's gradient to one gradient per parent.
:meth:`Tensor.backward` walks that graph once, in reverse topological order. An op is written
with :func:`record`; the ops themselves live in :mod:`neurosim.nn.ops` and the convolution and
normalisation modules.
"""
import contextlib
import threading

import numpy as np

from ..kernels import fpenv

_state = threading.local()


def is_recording():
    """Whether new ops record their backward functions (False inside :func:`no_grad`)."""
    return getattr(_state, "recording", True)


@contextlib.contextmanager
def no_grad():
    """Context in which ops compute values only: no graph, no gradients (evaluation)."""
    before = is_recording()
    _state.recording = False
    try:
        yield
    finally:
        _state.recording = before


def _float_array(x):
    a = np.asarray(x)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise TypeError(f"a Tensor holds numbers; got an array of dtype {a.dtype}")
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    return a


class Tensor:
    """An array that remembers how it was computed, so gradients can flow back to its inputs.

    Parameters
    ----------
    data : array_like
        Values; integers and booleans become float64, float32 stays float32.
    requires_grad : bool
        Whether :meth:`backward` should fill ``grad`` for this tensor (leaves: parameters and
        the inputs of :func:`grad`).
    """

    __slots__ = ("data", "grad", "requires_grad", "parents", "backward_fn")
    __array_priority__ = 100  # NumPy defers ``array * tensor`` to Tensor.__rmul__

    def __init__(self, data, requires_grad=False):
        self.data = _float_array(data)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.parents = ()
        self.backward_fn = None

    shape = property(lambda self: self.data.shape, doc="Shape of ``data``.")
    ndim = property(lambda self: self.data.ndim, doc="Rank of ``data``.")
    size = property(lambda self: self.data.size, doc="Number of elements.")
    dtype = property(lambda self: self.data.dtype, doc="Floating dtype of ``data``.")

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        flag = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, threshold=20, prefix='Tensor(')}{flag})"

    def numpy(self):
        """The values as a NumPy array (not a copy)."""
        return self.data

    def item(self):
        """The value of a one-element tensor as a Python float."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a one-element tensor; got shape {self.shape}")
        return float(self.data.reshape(()))

    def detach(self):
        """The same values, cut from the graph."""
        return Tensor(self.data)

    def zero_grad(self):
        """Forget the accumulated gradient (zeroed in place when it is a buffer's view)."""
        if self.grad is not None:
            self.grad[...] = 0.0

    def backward(self, grad=None):
        """Accumulate d(self)/d(leaf) into the ``grad`` of every leaf that requires it.

        ``grad`` (same shape as ``self``) seeds the pass; it may be left out for a one-element
        tensor (a loss). Gradients add up over repeated calls until :meth:`zero_grad`.
        """
        if not self.requires_grad:
            raise ValueError("backward() on a tensor that does not depend on any tensor with "
                             "requires_grad=True")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward() without a gradient needs a one-element tensor; got "
                                 f"shape {self.shape}")
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"gradient shape {grad.shape} does not match tensor shape "
                                 f"{self.shape}")
        fpenv.call_flushed(_propagate, self, grad)

    # arithmetic, as in NumPy; the ops are defined in neurosim.nn.ops
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pow__(self, exponent):
        return _ops.power(self, exponent)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    @property
    def T(self):
        """Axes reversed."""
        return _ops.transpose(self)

    def reshape(self, *shape):
        """Same data in a new shape (one entry may be -1)."""
        return _ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes):
        """Axes permuted (reversed when none are given)."""
        return _ops.transpose(self, axes or None)

    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (all axes by default)."""
        return _ops.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        """Mean over ``axis`` (all axes by default)."""
        return _ops.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        """Maximum over ``axis``; the gradient goes to the first maximal entry."""
        return _ops.max(self, axis, keepdims)

    def exp(self):
        """Element-wise exponential."""
        return _ops.exp(self)

    def log(self):
        """Element-wise natural logarithm."""
        return _ops.log(self)



def _propagate(root, grad):
    """The walk of :meth:`Tensor.backward` from ``root`` seeded with ``grad``, run with
    subnormals flushed to zero on the calling thread, BLAS kept to it where BLAS has threads
    (:mod:`..kernels.fpenv`; the own GEMM's threads flush as their caller): a trained
    network's gradients and Adam's squared gradients decay under float32's normal range
    (1.2e-38), where every operation costs ~100 cycles (an MLP 784-128-128-10 that fits its
    batches: 2.7 against 0.5 ms a step; PyTorch leaves them on, 1.9 against 1.2 ms)."""
    pending = {id(root): grad}
    for node in reversed(_topological_order(root)):
        g = pending.pop(id(node), None)
        if g is None:
            continue
        if node.backward_fn is None:
            if node.grad is None:
                node.grad = np.array(g, dtype=node.dtype)
            else:
                node.grad += g
            continue
        for parent, gp in zip(node.parents, node.backward_fn(g)):
            if gp is None or not parent.requires_grad:
                continue
            old = pending.get(id(parent))
            pending[id(parent)] = gp if old is None else old + gp


def as_tensor(x):
    """``x`` if it is a Tensor, else a constant Tensor holding it."""
    return x if isinstance(x, Tensor) else Tensor(x)


def record(data, parents, backward):
    """The output of an op: ``data`` with ``parents`` (Tensors) and ``backward(g)``.

    ``backward`` maps the gradient ``g`` of the output (shape of ``data``) to a tuple with one
    entry per parent: its gradient (parent's shape) or None. Nothing is kept when no parent needs
    a gradient or recording is off.
    """
    out = Tensor.__new__(Tensor)
    out.data = data
    out.grad = None
    out.requires_grad = is_recording() and any(p.requires_grad for p in parents)
    out.parents = tuple(parents) if out.requires_grad else ()
    out.backward_fn = backward if out.requires_grad else None
    return out


def _topological_order(root):
    """Nodes that need gradients, each after all of its parents (iterative depth-first)."""
    order, seen = [], {id(root)}
    stack = [(root, iter(root.parents))]
    while stack:
        node, parents = stack[-1]
        for p in parents:
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                stack.append((p, iter(p.parents)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def value_and_grad(f, argnums=0):
    """``f``'s value and its gradient with respect to the arguments in ``argnums``.

    ``f`` takes arrays (which arrive as Tensors) and returns a one-element Tensor built from
    neurosim ops. The returned function gives ``(value, gradient)``, the gradient an array of
    the argument's shape, or a tuple of arrays when ``argnums`` is a tuple.
    """
    many = not isinstance(argnums, int)
    nums = tuple(argnums) if many else (argnums,)

    def wrapped(*args, **kwargs):
        args = list(args)
        for i in nums:
            if i >= len(args):
                raise ValueError(f"argnums {i} but only {len(args)} positional arguments given")
            args[i] = Tensor(np.array(_float_array(args[i]), copy=True), requires_grad=True)
        prior = is_recording()
        _state.recording = True
        try:
            out = f(*args, **kwargs)
        finally:
            _state.recording = prior
        if not isinstance(out, Tensor) or out.size != 1:
            raise TypeError("the function must return a one-element Tensor (a scalar loss); got "
                            f"{type(out).__name__} {getattr(out, 'shape', '')}")
        if out.requires_grad:
            out.backward()
        grads = tuple(np.zeros_like(args[i].data) if args[i].grad is None else args[i].grad
                      for i in nums)
        return out.item(), grads if many else grads[0]

    return wrapped


def grad(f, argnums=0):
    """The gradient function of ``f`` (see :func:`value_and_grad`)."""
    vg = value_and_grad(f, argnums)
    return lambda *args, **kwargs: vg(*args, **kwargs)[1]


from . import ops as _ops  # noqa: E402  (ops build on Tensor and record above)
