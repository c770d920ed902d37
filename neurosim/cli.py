"""The ``neurosim`` command: ``demo``, ``run CONFIG.toml``, ``sweep CONFIG.toml``, ``list``,
``info RESULT.nc``, ``plot RESULT.nc`` and ``animate RESULT.nc``.

Bad input ends with a one-line message on stderr and exit status 2; ``--help`` everywhere.
"""
import argparse
import inspect
import sys
import time
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


class ConfigError(ValueError):
    """A run configuration that cannot be used; the message names the key."""


def _section(config, name, allowed, required=()):
    """The table ``name`` of ``config`` after checking its keys against ``allowed``."""
    table = config.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}] must be a table; got {table!r}")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in [{name}]; allowed: {sorted(allowed)}")
    missing = [k for k in required if k not in table]
    if missing:
        raise ConfigError(f"[{name}] needs {missing}")
    return table


def _parameters(func, skip=()):
    """Keyword parameter names that ``func`` accepts (for checking config keys)."""
    return [p for p in inspect.signature(func).parameters if p not in ("self", *skip)]


def _hopfield_run(config, seed, folder):
    """HN: store letters or random patterns, recall from noisy cues."""
    from .datasets import letters, noisy, random_patterns
    from .energy import HopfieldNetwork

    model = _section(config, "model", _parameters(HopfieldNetwork, skip=("n_units", "seed")))
    patterns = _section(config, "patterns", ("source", "letters", "count", "units"), required=("source",))
    cues = _section(config, "cues", ("flip",))
    recall = _section(config, "recall", _parameters(HopfieldNetwork.recall, skip=("cues", "seed", "progress")))
    source = patterns["source"]
    if source == "letters":
        xi, _, _ = letters(list(patterns.get("letters", "NEURO")))
    elif source == "random":
        if "count" not in patterns or "units" not in patterns:
            raise ConfigError("[patterns] with source = 'random' needs count and units")
        xi = random_patterns(patterns["count"], patterns["units"], seed=seed)
    else:
        raise ConfigError(f"[patterns] source must be 'letters' or 'random'; got {source!r}")
    net = HopfieldNetwork(xi.shape[1], seed=seed, **model).store(xi)
    return net.recall(noisy(xi, cues.get("flip", 0.2), seed=seed), seed=seed, progress=True, **recall)


def _mlp_run(config, seed, folder):
    """FF: train a multilayer perceptron on the bundled digits or MNIST files (``path``
    relative to the config's ``folder``); returns the training history."""
    from .datasets import digits_split, mnist
    from .deep import mlp
    from .nn.train import fit

    model = _section(config, "model", ("hidden", "activation", "dropout", "init", "dtype"))
    data = _section(config, "data", ("source", "path"), required=("source",))
    options = _section(config, "fit", [p for p in _parameters(fit, skip=("model", "X", "y", "seed",
                                                                          "validation", "progress",
                                                                          "callbacks", "early_stopping",
                                                                          "optimizer_options"))])
    if data["source"] == "digits":
        Xtr, Xte, ytr, yte = digits_split()
    elif data["source"] == "mnist":
        if "path" not in data:
            raise ConfigError("[data] with source = 'mnist' needs path (the folder of the IDX files)")
        where = folder / data["path"]
        try:
            (Xtr, ytr), (Xte, yte) = mnist(where, "train"), mnist(where, "test")
        except FileNotFoundError as err:
            raise ConfigError(f"[data] path: {err}") from None
    else:
        raise ConfigError(f"[data] source must be 'digits' or 'mnist'; got {data['source']!r}")
    hidden = model.get("hidden", [128])
    hidden = [hidden] if isinstance(hidden, int) else list(hidden)
    net = mlp([Xtr.shape[1], *hidden, int(max(ytr.max(), yte.max())) + 1],
              model.get("activation", "relu"), dropout=model.get("dropout", 0.0),
              init=model.get("init", "glorot_uniform"), seed=seed, dtype=model.get("dtype", "float64"))
    return net.fit(Xtr, ytr, seed=seed, validation=(Xte, yte), progress=True,
                   **{"metrics": ["accuracy"], **options})


# family -> (runner, the config tables it reads)
RUNNERS = {"HN": (_hopfield_run, ("model", "patterns", "cues", "recall")),
           "FF": (_mlp_run, ("model", "data", "fit"))}


def _read_toml(path):
    """The parsed TOML file ``path``; a missing or invalid file is a :class:`ConfigError`."""
    try:
        return tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None


def run_config(path):
    """Run the experiment a TOML file describes; returns ``(Dataset, output path)``.

    Top-level keys: ``family`` (zoo abbreviation), ``seed``, ``output`` (.nc path, relative to
    the config file) and the family's tables. HN: ``[model]``, ``[patterns]``, ``[cues]``,
    ``[recall]`` (a recall Dataset). FF: ``[model]`` (``hidden`` widths, ``activation``,
    ``dropout``, ``init``, ``dtype``), ``[data]`` (``source = "digits"`` or ``"mnist"`` with
    ``path``, the folder of the IDX files relative to the config), ``[fit]`` (the options of
    :func:`neurosim.nn.train.fit`, e.g. ``epochs``, ``lr``, ``batch_size``): the training
    history with test loss and accuracy per epoch. Unknown keys are errors.
    """
    path = Path(path)
    config = _read_toml(path)
    family = str(config.get("family", "")).upper()
    if family not in RUNNERS:
        raise ConfigError(f"family must be one of {sorted(RUNNERS)} (families runnable from a config); "
                          f"got {config.get('family')!r}")
    runner, tables = RUNNERS[family]
    allowed = {"family", "seed", "output", *tables}
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {unknown}; allowed: {sorted(allowed)}")
    seed = config.get("seed", 0)
    out = path.parent / config.get("output", path.with_suffix(".nc").name)
    try:
        ds = runner(config, seed, path.parent)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path}: {err}") from None
    ds.to_netcdf(out)
    return ds, out


# -- sweeps ---------------------------------------------------------------------------------------
def sweep_config(path):
    """The arguments of :func:`neurosim.sweeps.sweep` from a TOML sweep config, checked (see
    :func:`neurosim.sweeps.read_config`); returns ``(kwargs, name)``, bad input is a
    :class:`ConfigError` naming the key."""
    from .sweeps import read_config

    path = Path(path)
    config = _read_toml(path)
    try:
        return read_config(config, where=path), path.stem
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path}: {err}") from None


def run_sweep(path, *, scheduler=None, workers=None, out=".", timeout=10.0, progress=True):
    """Run the sweep a TOML config describes; returns ``(Dataset, result path or None)``.

    Points are kept in ``out/<store>`` (a rerun resumes there); the combined result is written
    to ``out/<config name>.nc`` unless the sweep was interrupted (then None).
    """
    from .sweeps import sweep

    kwargs, stem = sweep_config(path)
    if workers is not None and scheduler is not None:
        raise ConfigError("--workers sizes the local cluster; it cannot be combined with --scheduler")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1; got {workers}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kwargs["store"] = out / kwargs["store"]
    try:
        ds = sweep(**kwargs, client=scheduler, workers=workers, timeout=timeout, progress=progress)
    except (TypeError, ValueError, ConnectionError) as err:
        raise ConfigError(str(err)) from None
    if ds.attrs["interrupted"]:
        return ds, None
    result = out / f"{stem}.nc"
    ds.to_netcdf(result)
    return ds, result


# -- figures --------------------------------------------------------------------------------------
def _load_result(path):
    from .record import load

    if not Path(path).is_file():
        raise ConfigError(f"result file not found: {path}")
    try:
        return load(path)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same one-line error
        raise ConfigError(f"cannot read {path} as a netCDF Dataset: {err}") from None


def figure(ds, var=None):
    """The default figure of a neurosim Dataset: :func:`neurosim.viz.default_figure`."""
    from .viz import default_figure

    return default_figure(ds, var)


def plot_result(path, out=None, var=None):
    """Draw the default figure of a saved Dataset to ``out`` (default: ``path`` with .png)."""
    ds = _load_result(path)
    out = Path(out) if out is not None else Path(path).with_suffix(".png")
    if var is not None and var not in ds.data_vars:
        raise ConfigError(f"{path}: --var must name a variable of the Dataset {sorted(ds.data_vars)}; "
                          f"got {var!r}")
    try:
        fig = figure(ds, var)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path}: {err}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def _shape(text, n_units, attrs):
    """The image shape of one state: ``--shape HxW``, else attrs ``shape``, else a square."""
    import math

    if text:
        try:
            h, w = (int(v) for v in text.lower().split("x"))
        except ValueError:
            raise ConfigError(f"--shape must look like 12x12 (height x width); got {text!r}") from None
        if h * w != n_units:
            raise ConfigError(f"--shape {h}x{w} holds {h * w} units but the states have {n_units}")
        return h, w
    if "shape" in attrs:
        h, w = (int(v) for v in list(attrs["shape"]))
        return h, w
    side = math.isqrt(n_units)
    if side * side != n_units:
        raise ConfigError(f"the states have {n_units} units, not a square: give --shape HxW")
    return side, side


def animate_result(path, out=None, shape=None, cues=None):
    """A GIF of a Hopfield recall saved with its states (``state`` (cue, sweep, unit))."""
    from . import viz

    ds = _load_result(path)
    if "state" not in ds.data_vars or not {"sweep", "unit"} <= set(ds["state"].dims):
        raise ConfigError(f"{path} has no recorded states to animate (a variable 'state' with dims "
                          f"(cue, sweep, unit), from recall(record='sweeps')); its variables are "
                          f"{sorted(ds.data_vars)}")
    hw = _shape(shape, ds.sizes["unit"], ds.attrs)
    n = ds.sizes.get("cue", 1)
    picked = cues if cues is not None else list(range(min(n, 16)))
    labels = None
    if "pattern" in ds.coords and ds["pattern"].dtype.kind in "UO":
        labels = [str(v) for v in ds["pattern"].values]
    out = Path(out) if out is not None else Path(path).with_suffix(".gif")
    try:
        anim = viz.animate_recall(ds, hw, cues=picked, labels=labels)
        viz.save_animation(anim, out)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path}: {err}") from None
    return out


def _demo_hopfield(out):
    """Letters stored in a Hopfield network and recalled from 25%-noisy cues (with animation)."""
    from . import viz
    from .datasets import letters, noisy
    from .energy import HopfieldNetwork

    xi, shape, names = letters(list("NEURO"))
    net = HopfieldNetwork(xi.shape[1], rule="pinv", seed=0).store(xi)
    ds = net.recall(noisy(xi, 0.25, seed=1), seed=2)
    ds = ds.assign_coords(pattern=list(names))
    nc = out / "hopfield_letters.nc"
    ds.to_netcdf(nc)
    gif = out / "hopfield_recall.gif"
    viz.save_animation(viz.animate_recall(ds, shape), gif)
    return [nc, gif]


def _demo_esn(out):
    """An echo state network learns Mackey-Glass, then generates it in closed loop (animation)."""
    from . import viz
    from .datasets import mackey_glass
    from .reservoir import ESN

    X = mackey_glass(2600)
    X = 2 * (X - X.min()) / (X.max() - X.min()) - 1
    esn = ESN(300, leak=0.3, spectral_radius=0.95, ridge=1e-7, seed=0)
    esn.fit(X[:2000], X[1:2001], washout=100)
    ds = esn.generate(300, record={"index": list(range(16))})
    ds["truth"] = (("time", "output"), X[2001:2301])
    nc = out / "esn_generation.nc"
    ds.to_netcdf(nc)
    gif = out / "esn_generation.gif"
    anim = viz.reservoir.animate_generation(X[2001:2301, 0], ds["prediction"].values[:, 0],
                                            context=X[1900:2001, 0], frames=30)
    viz.save_animation(anim, gif, fps=6, dpi=70)
    return [nc, gif]


def _demo_annealing(out):
    """Simulated annealing of a 256-spin Sherrington-Kirkpatrick glass (energy traces)."""
    from .energy import IsingAnnealer, sk_couplings

    ds = IsingAnnealer(sk_couplings(256, seed=0), seed=0).anneal(
        sweeps=500, reads=8, beta_range=(0.1, 5.0), trace=True)
    nc = out / "sk_annealing.nc"
    ds.to_netcdf(nc)
    return [nc]


def _demo_som(out):
    """A 12x12 Kohonen map of the bundled handwritten digits (training history)."""
    from .datasets import digits
    from .som import SOM

    X, _ = digits()
    ds = SOM(12, 12, 64, sigma=3.0, learning_rate=0.5, seed=0).train(X / 16.0, iterations=10_000)
    nc = out / "som_digits.nc"
    ds.to_netcdf(nc)
    return [nc]


DEMOS = [_demo_hopfield, _demo_esn, _demo_annealing, _demo_som]


def demo(out):
    """Run every showcase into the folder ``out``; returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    print("The first run compiles the kernels (about a minute); later runs load them from the cache.",
          flush=True)
    written = []
    for step in DEMOS:
        print(f"- {step.__doc__.splitlines()[0]}", end="", flush=True)
        t0 = time.perf_counter()
        written += step(out)
        print(f" ({time.perf_counter() - t0:.1f} s)", flush=True)
    return written


def _list():
    from . import zoo

    for f in zoo.families():
        where = f.implementation.replace(":", ".") if f.implementation else ""
        print(f"{f.abbrev:8} {f.name:45} {f.status:8} {where}")


def _parser():
    parser = argparse.ArgumentParser(prog="neurosim", description="Simulate the Neural Network Zoo; "
                                     "every result is an xarray Dataset saved as netCDF.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run a short showcase on built-in data and write .nc and .gif files")
    p.add_argument("--out", default="neurosim-demo", help="output folder (default: %(default)s)")
    p = sub.add_parser("run", help="run the experiment described by a TOML config and write a .nc file")
    p.add_argument("config", help="path to the TOML file")
    sub.add_parser("list", help="every family of the zoo with its status")
    p = sub.add_parser("info", help="print a result Dataset saved as netCDF")
    p.add_argument("result", help="path to a .nc file")
    p = sub.add_parser("sweep", help="run a parameter sweep from a TOML config on Dask (resumable)")
    p.add_argument("config", help="path to the TOML file (fn, seeds, store, batch, [grid], [fixed])")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786 "
                   "(default: a local cluster of worker processes)")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes of the local cluster")
    p.add_argument("--out", default=".", help="folder of the point store and the result .nc (default: .)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="give up connecting to --scheduler after this long (default: %(default)s)")
    p = sub.add_parser("plot", help="draw the default figure of a result .nc (sweeps: heat map and lines)")
    p.add_argument("result", help="path to a .nc file")
    p.add_argument("-o", "--output", help="image file (default: the result's name with .png)")
    p.add_argument("--var", help="variable to draw (default: chosen from the Dataset)")
    p = sub.add_parser("animate", help="animate a Hopfield recall saved with its states as a GIF")
    p.add_argument("result", help="path to a .nc file with a 'state' (cue, sweep, unit) variable")
    p.add_argument("-o", "--output", help="GIF file (default: the result's name with .gif)")
    p.add_argument("--shape", help="image shape of one state, HxW (default: attrs 'shape' or a square)")
    p.add_argument("--cues", type=lambda t: [int(v) for v in t.split(",")], metavar="I,J,...",
                   help="cues to show (default: the first 16)")
    return parser


def main(argv=None):
    """Entry point of the ``neurosim`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            written = demo(args.out)
            print("wrote:")
            for path in written:
                print(f"  {path}")
        elif args.command == "run":
            ds, out = run_config(args.config)
            print(ds)
            print(f"wrote: {out}")
        elif args.command == "list":
            _list()
        elif args.command == "info":
            from .record import load

            if not Path(args.result).is_file():
                raise ConfigError(f"result file not found: {args.result}")
            print(load(args.result))
        elif args.command == "sweep":
            ds, out = run_sweep(args.config, scheduler=args.scheduler, workers=args.workers,
                                out=args.out, timeout=args.timeout)
            done = ds.attrs["n_points"] - ds.attrs["n_failed"] - ds.attrs["n_missing"]
            if out is None:
                print(f"neurosim sweep: interrupted with {done} of {ds.attrs['n_points']} points done "
                      f"(kept in {ds.attrs['store']}); run the same command again to resume", file=sys.stderr)
                return 130
            print(ds)
            print(f"wrote: {out}")
            if ds.attrs["n_failed"]:
                first = next(str(e) for e in ds.error.values.ravel() if e not in ("", "not run"))
                print(f"neurosim sweep: {ds.attrs['n_failed']} point(s) failed (see {ds.attrs['store']}"
                      f"/failed), e.g. {first}; run again to retry them", file=sys.stderr)
                return 1
        elif args.command == "plot":
            print(f"wrote: {plot_result(args.result, args.output, args.var)}")
        elif args.command == "animate":
            print(f"wrote: {animate_result(args.result, args.output, args.shape, args.cues)}")
    except ConfigError as err:
        print(f"neurosim {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
