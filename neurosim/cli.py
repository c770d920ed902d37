"""The ``neurosim`` command: ``demo``, ``run CONFIG.toml``, ``sweep CONFIG.toml``, ``list``,
``info RESULT.nc``, ``plot RESULT.nc`` and ``animate RESULT.nc``.

Bad input ends with a one-line message on stderr and exit status 2; ``--help`` everywhere.
"""
import argparse
import inspect
import os
import sys
import time
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from . import checks


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
        chosen = patterns.get("letters", "NEURO")
        if not isinstance(chosen, str) or not chosen:
            raise ConfigError(f"[patterns] letters must be a string of letters such as 'NEURO'; got {chosen!r}")
        xi, _, _ = letters(list(chosen))
    elif source == "random":
        if "count" not in patterns or "units" not in patterns:
            raise ConfigError("[patterns] with source = 'random' needs count and units")
        xi = random_patterns(checks.integer(patterns["count"], "[patterns] count", low=1),
                             checks.integer(patterns["units"], "[patterns] units", low=2), seed=seed)
    else:
        raise ConfigError(f"[patterns] source must be 'letters' or 'random'; got {source!r}")
    flip = checks.scalar(cues.get("flip", 0.2), "[cues] flip", low=0.0, high=1.0)
    net = HopfieldNetwork(xi.shape[1], seed=seed, **model).store(xi)
    return net.recall(noisy(xi, flip, seed=seed), seed=seed, progress=True, **recall)


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
    hidden = [hidden] if isinstance(hidden, int) and not isinstance(hidden, bool) else hidden
    if not isinstance(hidden, list):
        raise ConfigError(f"[model] hidden must be a list of layer widths such as [128, 64]; got {hidden!r}")
    hidden = [checks.integer(h, f"[model] hidden[{i}]", low=1) for i, h in enumerate(hidden)]
    net = mlp([Xtr.shape[1], *hidden, int(max(ytr.max(), yte.max())) + 1],
              model.get("activation", "relu"), dropout=model.get("dropout", 0.0),
              init=model.get("init", "glorot_uniform"), seed=seed, dtype=model.get("dtype", "float64"))
    ds = net.fit(Xtr, ytr, seed=seed, validation=(Xte, yte), progress=True,
                 **{"metrics": ["accuracy"], **options})
    # the main figure: loss and accuracy per epoch, training beside test (those recorded)
    ds.attrs["main"] = " ".join(p for p in ("epoch_loss+val_loss", "accuracy+val_accuracy")
                                if all(v in ds.data_vars for v in p.split("+"))) or "loss"
    return ds


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
    the config file, in a folder that exists: checked before anything runs) and the family's
    tables (examples in ``examples/configs/``). HN: ``[model]``, ``[patterns]``, ``[cues]``,
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
    out = _output(path, config.get("output", path.with_suffix(".nc").name))
    try:
        ds = runner(config, seed, path.parent)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path}: {err}") from None
    _write(ds, out)
    return ds, out


def _output(config_path, output):
    """The result file a config names (``output``, relative to the config file), checked
    before anything runs: a string, in a folder that exists and can be written."""
    if not isinstance(output, str) or not output:
        raise ConfigError(f"output must be the path of a .nc file (relative to the config); got {output!r}")
    out = config_path.parent / output
    if not out.parent.is_dir():
        raise ConfigError(f"output = {output!r}: the folder {str(out.parent)!r} does not exist; create it "
                          f"or change output")
    if not os.access(out.parent, os.W_OK) or out.is_dir():
        raise ConfigError(f"output = {output!r}: cannot write {str(out)!r}")
    return out


def _write(ds, path):
    """``ds.to_netcdf(path)``; a file that cannot be written is a :class:`ConfigError`."""
    try:
        ds.to_netcdf(path)
    except OSError as err:
        raise ConfigError(f"cannot write {path}: {err.strerror or err}") from None


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
    _need_dask()
    out = _folder(out, "--out")
    kwargs["store"] = out / kwargs["store"]
    try:
        ds = sweep(**kwargs, client=scheduler, workers=workers, timeout=timeout, progress=progress)
    except (TypeError, ValueError, ConnectionError) as err:
        raise ConfigError(str(err)) from None
    if ds.attrs["interrupted"]:
        return ds, None
    result = out / f"{stem}.nc"
    _write(ds, result)
    return ds, result


DIST_EXTRA = 'pip install "neurosim[dist]"'
"""How to install what ``neurosim sweep`` needs (Dask distributed, an optional extra)."""


def _need_dask():
    """A :class:`ConfigError` naming the extra to install when Dask distributed is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ConfigError(f"sweeps run on Dask distributed, which is not installed: {DIST_EXTRA}") from None


def _folder(path, what):
    """The folder ``path``, made if missing; one that cannot be made is a :class:`ConfigError`
    naming ``what``."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"{what} {str(path)!r}: cannot make the folder ({err.strerror or err})") from None
    if not os.access(path, os.W_OK):
        raise ConfigError(f"{what} {str(path)!r}: the folder cannot be written")
    return path


# -- figures --------------------------------------------------------------------------------------
def _load_result(path):
    """The Dataset in the netCDF file ``path``; a missing or unreadable file is a one-line
    :class:`ConfigError`."""
    from .record import load

    if not Path(path).is_file():
        raise ConfigError(f"result file not found: {path}")
    try:
        return load(path)
    except Exception:  # noqa: BLE001 - any unreadable file gets the same one-line error
        raise ConfigError(f"cannot read {path}: not a netCDF file (another format, or truncated)") from None


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
    _folder(out.parent, "-o")
    try:
        fig.savefig(out, dpi=110)
    except (OSError, ValueError) as err:  # ValueError: an image format matplotlib does not know
        raise ConfigError(f"cannot write {out}: {err}") from None
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
    """Hopfield network: letters recalled from 25%-noisy cues"""
    from . import viz
    from .datasets import letters, noisy
    from .energy import HopfieldNetwork

    xi, shape, names = letters(list("NEURO"))
    net = HopfieldNetwork(xi.shape[1], rule="pinv", seed=0).store(xi)
    ds = net.recall(noisy(xi, 0.25, seed=1), seed=2)
    ds = ds.assign_coords(pattern=list(names))
    nc = out / "hopfield_letters.nc"
    _write(ds, nc)
    gif = out / "hopfield_recall.gif"
    viz.save_animation(viz.animate_recall(ds, shape), gif)
    return [nc, gif]


def _demo_esn(out):
    """Echo state network: learns Mackey-Glass, then generates it in closed loop"""
    from . import viz
    from .datasets import mackey_glass
    from .reservoir import ESN

    X = mackey_glass(2600)
    X = 2 * (X - X.min()) / (X.max() - X.min()) - 1
    esn = ESN(300, leak=0.3, spectral_radius=0.95, ridge=1e-7, seed=0)
    esn.fit(X[:2000], X[1:2001], washout=100)
    ds = esn.generate(300, record={"index": list(range(16))})
    ds["truth"] = (("time", "output"), X[2001:2301], {"units": "1"})
    ds.attrs["main"] = "truth+prediction"
    nc = out / "esn_generation.nc"
    _write(ds, nc)
    gif = out / "esn_generation.gif"
    anim = viz.reservoir.animate_generation(X[2001:2301, 0], ds["prediction"].values[:, 0],
                                            context=X[1900:2001, 0], frames=30)
    viz.save_animation(anim, gif, fps=6, dpi=70)
    return [nc, gif]


def _demo_annealing(out):
    """Simulated annealing: a 256-spin Sherrington-Kirkpatrick glass"""
    from .energy import IsingAnnealer, sk_couplings

    ds = IsingAnnealer(sk_couplings(256, seed=0), seed=0).anneal(
        sweeps=500, reads=8, beta_range=(0.1, 5.0), trace=True)
    nc = out / "sk_annealing.nc"
    _write(ds, nc)
    return [nc]


def _demo_som(out):
    """Kohonen map: 12x12 units trained on the bundled handwritten digits"""
    from .datasets import digits
    from .som import SOM

    X, _ = digits()
    ds = SOM(12, 12, 64, sigma=3.0, learning_rate=0.5, seed=0).train(X / 16.0, iterations=10_000)
    nc = out / "som_digits.nc"
    _write(ds, nc)
    return [nc]


DEMOS = [_demo_hopfield, _demo_esn, _demo_annealing, _demo_som]

DEMO_KERNELS = ("hopfield.start", "hopfield.sweeps", "reservoir.run_serial", "reservoir.run_readout_serial",
                "annealing.anneal", "som.train_online")
"""The demo's main kernels (``module.function`` under :mod:`neurosim.kernels`): if Numba's cache
lacks one of them, the demo says that it compiles first."""


def kernels_cached(names=DEMO_KERNELS):
    """Whether Numba's cache on disk holds compiled code for every kernel of ``names`` (as in
    :data:`DEMO_KERNELS`) and its current source; None when this Numba cannot tell.

    It reads each kernel's cache index (where ``NUMBA_CACHE_DIR`` or the package's
    ``__pycache__`` puts it) through Numba's own cache object, which discards an index written
    for another version of the source file.
    """
    import importlib

    try:
        for name in names:
            module, func = name.rsplit(".", 1)
            kernel = getattr(importlib.import_module(f"{__package__}.kernels.{module}"), func)
            if not kernel._cache._cache_file._load_index():  # Numba's private cache API
                return False
        return True
    except Exception:  # noqa: BLE001 - another Numba version, or the JIT disabled: cannot tell
        return None


class CompileReport:
    """While active (``with CompileReport(): ...``), names each group of kernels (their module
    under :mod:`neurosim.kernels`) as Numba starts compiling it, on one status line ending in
    the seconds spent compiling (``compiling kernels: hopfield rng (4.1 s)``). Only top-level
    compiles count, not the helpers a kernel compiles inside them; nothing is printed when
    everything comes from the cache; :attr:`seconds` is the time spent compiling.
    Listens to Numba's ``numba:compile`` events."""

    def __init__(self, indent="", stream=None):
        self.indent, self.stream = indent, stream
        self.groups, self.depth, self.t0, self.seconds = [], 0, 0.0, 0.0

    def on_start(self, event):
        """Numba starts a compile."""
        self.depth += 1
        if self.depth > 1:
            return
        self.t0 = time.perf_counter()
        module = getattr(getattr(event.data.get("dispatcher"), "py_func", None), "__module__", None) or "?"
        group = module.removeprefix(f"{__package__}.kernels.")
        if group not in self.groups:
            if not self.groups:
                self._print(f"{self.indent}compiling kernels:")
            self.groups.append(group)
            self._print(f" {group}")

    def on_end(self, event):
        """Numba ends a compile."""
        self.depth -= 1
        if self.depth == 0:
            self.seconds += time.perf_counter() - self.t0

    def _print(self, text, end=""):
        print(text, end=end, file=self.stream or sys.stdout, flush=True)

    def __enter__(self):
        from numba.core import event

        report = self

        class Forward(event.Listener):  # numba.core.event wants a Listener; Numba is imported late
            def on_start(self, e):
                report.on_start(e)

            def on_end(self, e):
                report.on_end(e)

        self._listener = Forward()
        event.register("numba:compile", self._listener)
        return self

    def __exit__(self, *exc):
        from numba.core import event

        event.unregister("numba:compile", self._listener)
        if self.groups:
            self._print(f" ({self.seconds:.1f} s)", end="\n")
        return False


def demo(out, stream=None):
    """Run every showcase into the folder ``out``, each result as ``.nc`` with its main figure
    as ``.png`` (and animations as ``.gif``); returns the paths written. Progress goes to
    ``stream`` (default stdout): a line per showcase, the kernels it compiles, what it wrote."""
    out = _folder(out, "--out")

    def say(text):
        print(text, file=stream or sys.stdout, flush=True)

    if kernels_cached() is False:
        say("The first run compiles the kernels (about half a minute); later runs load them from the cache.")
    written = []
    for k, step in enumerate(DEMOS, 1):
        say(f"[{k}/{len(DEMOS)}] {step.__doc__.splitlines()[0]}")
        t0 = time.perf_counter()
        with CompileReport("      ", stream):
            files = step(out)
        for nc in [f for f in files if f.suffix == ".nc"]:
            files.insert(files.index(nc) + 1, plot_result(nc))
        written += files
        say(f"      wrote {', '.join(f.name for f in files)} ({time.perf_counter() - t0:.1f} s)")
    return written


def _print_dataset(ds):
    """Print a Dataset with every variable and attribute (xarray shows 12 by default)."""
    import xarray as xr

    with xr.set_options(display_max_rows=max(len(ds.attrs), len(ds.variables), 12)):
        print(ds)


def _cue_list(text):
    """``--cues 0,2,5`` as a list of ints (None when not given)."""
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"--cues must be cue numbers separated by commas, such as 0,2,5; got {text!r}") from None


def _list(maps=None):
    from . import zoo

    for f in zoo.families():
        where = f.implementation.replace(":", ".") if f.implementation else ""
        print(f"{f.abbrev:8} {f.name:45} {f.status:8} {where}")
    if maps is not None:
        from .viz import zoo_poster

        zoo_poster().savefig(maps, dpi=100)
        print(f"wrote: {maps}")


def _parser():
    parser = argparse.ArgumentParser(prog="neurosim", description="Simulate the Neural Network Zoo; "
                                     "every result is an xarray Dataset saved as netCDF.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run a short showcase on built-in data and write .nc and .gif files")
    p.add_argument("--out", default="neurosim-demo", help="output folder (default: %(default)s)")
    p = sub.add_parser("run", help="run the experiment described by a TOML config and write a .nc file")
    p.add_argument("config", help="path to the TOML file")
    p = sub.add_parser("list", help="every family of the zoo with its status")
    p.add_argument("--maps", metavar="PNG", help="also draw the Zoo poster (a node map of a small "
                   "working model of every family) to this image")
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
    p.add_argument("--cues", metavar="I,J,...", help="cues to show (default: the first 16)")
    return parser


def main(argv=None):
    """Entry point of the ``neurosim`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            t0 = time.perf_counter()
            written = demo(args.out)
            print(f"done in {time.perf_counter() - t0:.0f} s: {len(written)} files in {args.out}; "
                  f"try neurosim info {Path(args.out) / 'sk_annealing.nc'}")
        elif args.command == "run":
            ds, out = run_config(args.config)
            _print_dataset(ds)
            print(f"wrote: {out}")
        elif args.command == "list":
            _list(args.maps)
        elif args.command == "info":
            _print_dataset(_load_result(args.result))
        elif args.command == "sweep":
            ds, out = run_sweep(args.config, scheduler=args.scheduler, workers=args.workers,
                                out=args.out, timeout=args.timeout)
            done = ds.attrs["n_points"] - ds.attrs["n_failed"] - ds.attrs["n_missing"]
            if out is None:
                print(f"neurosim sweep: interrupted with {done} of {ds.attrs['n_points']} points done "
                      f"(kept in {ds.attrs['store']}); run the same command again to resume", file=sys.stderr)
                return 130
            _print_dataset(ds)
            print(f"wrote: {out}")
            if ds.attrs["n_failed"]:
                first = next(str(e) for e in ds.error.values.ravel() if e not in ("", "not run"))
                print(f"neurosim sweep: {ds.attrs['n_failed']} point(s) failed (see {ds.attrs['store']}"
                      f"/failed), e.g. {first}; run again to retry them", file=sys.stderr)
                return 1
        elif args.command == "plot":
            print(f"wrote: {plot_result(args.result, args.output, args.var)}")
        elif args.command == "animate":
            print(f"wrote: {animate_result(args.result, args.output, args.shape, _cue_list(args.cues))}")
    except ConfigError as err:
        print(f"neurosim {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
