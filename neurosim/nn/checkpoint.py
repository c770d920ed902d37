"""Training checkpoints: what :func:`neurosim.nn.train.fit` needs to resume a run exactly.

A checkpoint is one netCDF file (no pickle) written after an epoch: the model's parameters and
buffers (``model.<name>``), the optimiser's step count and moment buffers
(``optimizer.<name>``), the history so far (``loss`` and ``lr`` per step, ``log.<name>`` per
epoch), and, as JSON attributes, the states of the random generators that drive training (the
shuffling generator and every generator a layer owns, e.g. a Dropout's masks). Resumed from
it, ``fit`` draws the same batches and masks and makes the same updates as the uninterrupted
run, so the trajectory is the same to the last bit.
"""
import json
import os

import numpy as np

from .. import record


def layer_generators(model):
    """``{path: Generator}`` of every ``numpy.random.Generator`` a layer of ``model`` holds as
    an attribute (path: the sub-layer indices and the attribute, e.g. ``"2.generator"``)."""
    out = {}

    def walk(layer, prefix):
        for name, value in vars(layer).items():
            if isinstance(value, np.random.Generator):
                out[prefix + name] = value
        for i, sub in enumerate(getattr(layer, "layers", ())):
            walk(sub, f"{prefix}{i}.")
    walk(model, "")
    return out


def _variables(prefix, state):
    return {f"{prefix}.{name}": ([f"{prefix}.{name}_{k}" for k in range(np.ndim(value))],
                                 np.asarray(value)) for name, value in state.items()}


def save_checkpoint(path, model, optimizer, epoch, generator, steps, logs):
    """Write the training state after ``epoch`` (0-based, finished) to the netCDF ``path``.

    ``generator``: the fit's shuffling generator; ``steps``: ``{"loss": ..., "lr": ...}`` per
    step so far; ``logs``: ``{name: values per epoch so far}``. The file is written beside
    ``path`` and moved over it, so an interruption while writing leaves the previous
    checkpoint whole. Returns ``path``.
    """
    data = {**_variables("model", model.state()), **_variables("optimizer", optimizer.state())}
    data.update({name: (["step"], np.asarray(v, np.float64)) for name, v in steps.items()})
    data.update({f"log.{name}": (["epoch"], np.asarray(v)) for name, v in logs.items()})
    states = {k: g.bit_generator.state for k, g in layer_generators(model).items()}
    ds = record.dataset(data, family="nn", model=type(model).__name__,
                        attrs={"checkpoint": 1, "epoch": int(epoch),
                               "optimizer": type(optimizer).__name__,
                               "generator": json.dumps(generator.bit_generator.state),
                               "layer_generators": json.dumps(states)})
    name = os.fspath(path)
    record.save(ds, name + ".partial")
    os.replace(name + ".partial", name)
    return path


def load_checkpoint(path, model, optimizer, generator):
    """Restore the state that :func:`save_checkpoint` wrote to ``path`` into ``model`` (built
    as the saved one was), ``optimizer`` (of the same class over the model's parameters) and
    the shuffling ``generator``; returns ``(epoch, steps, logs)`` as they were saved.

    A file that is not a checkpoint of this model and optimiser is a ValueError naming it.
    """
    name = os.fspath(path)
    ds = record.open_model(name, type(model).__name__)
    if not ds.attrs.get("checkpoint"):
        raise ValueError(f"{name} is a saved {type(model).__name__}, not a training checkpoint "
                         "(written by fit(checkpoint=...))")
    if ds.attrs.get("optimizer") != type(optimizer).__name__:
        raise ValueError(f"{name} was written with optimizer {ds.attrs.get('optimizer')}; this "
                         f"fit uses {type(optimizer).__name__}")

    def part(prefix):
        return {k[len(prefix) + 1:]: ds[k].values for k in ds.data_vars
                if k.startswith(prefix + ".")}
    try:
        model.load_state(part("model"))
        optimizer.load_state(part("optimizer"))
        states = json.loads(ds.attrs["layer_generators"])
        mine = layer_generators(model)
        if set(states) != set(mine):
            raise ValueError(f"the checkpoint's layer generators {sorted(states)} are not the "
                             f"model's {sorted(mine)}")
        for key, state in states.items():
            mine[key].bit_generator.state = state
        generator.bit_generator.state = json.loads(ds.attrs["generator"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{name}: {err}") from None
    steps = {k: ds[k].values for k in ("loss", "lr")}
    return int(ds.attrs["epoch"]), steps, part("log")


__all__ = ["save_checkpoint", "load_checkpoint", "layer_generators"]
