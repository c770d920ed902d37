"""The ``neurosim`` command: ``demo``, ``run CONFIG.toml``, ``list`` and ``info RESULT.nc``.

Bad input ends with a one-line message on stderr and exit status 2; ``--help`` everywhere.
"""
import argparse
import inspect
import sys
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


def _hopfield_run(config, seed):
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


# family -> (runner, the config tables it reads)
RUNNERS = {"HN": (_hopfield_run, ("model", "patterns", "cues", "recall"))}


def run_config(path):
    """Run the experiment a TOML file describes; returns ``(Dataset, output path)``.

    Top-level keys: ``family`` (zoo abbreviation), ``seed``, ``output`` (.nc path, relative to
    the config file) and the family's tables (for HN: ``[model]``, ``[patterns]``, ``[cues]``,
    ``[recall]``). Unknown keys are errors.
    """
    path = Path(path)
    try:
        config = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None
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
        ds = runner(config, seed)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path}: {err}") from None
    ds.to_netcdf(out)
    return ds, out


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


DEMOS = [_demo_hopfield]


def demo(out):
    """Run every showcase into the folder ``out``; returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for step in DEMOS:
        print(f"- {step.__doc__.splitlines()[0]}", flush=True)
        written += step(out)
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
    except ConfigError as err:
        print(f"neurosim {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
