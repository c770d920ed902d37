"""neurosim.deep holds the gradient-trained families, one module per zoo group; the old paths
(neurosim.feedforward and its modules, neurosim.recurrent, .attention, .memory) import with a
DeprecationWarning that points at the importing line, and give the very same objects."""
import importlib
import sys
import warnings

import pytest

import neurosim
import neurosim.deep as deep
from neurosim import zoo
from neurosim.deep._moved import MOVED


def forget(old):
    """Drop ``old`` (and the modules below it) so that importing it runs its alias again."""
    for name in [m for m in sys.modules if m == old or m.startswith(old + ".")]:
        del sys.modules[name]
    parent, _, leaf = old.rpartition(".")
    vars(sys.modules[parent]).pop(leaf, None)


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_paths_warn_and_give_the_same_module(old):
    # the old package registers the modules of mlp and capsnet (its names for the functions)
    registered = old in ("neurosim.feedforward.mlp", "neurosim.feedforward.capsnet")
    forget("neurosim.feedforward" if registered else old)
    warned = "neurosim.feedforward" if registered else old
    with pytest.warns(DeprecationWarning, match=f"{warned} moved to {MOVED[warned]}") as caught:
        module = importlib.import_module(old)
    assert caught[0].filename == __file__ or "importlib" in caught[0].filename
    new = importlib.import_module(MOVED[old])
    names = [n for n in new.__all__ if hasattr(module, n)]
    assert names and all(getattr(module, n) is getattr(new, n) for n in names)
    if old != "neurosim.feedforward":
        assert module is new


def test_the_warning_points_at_the_users_import_line():
    forget("neurosim.memory")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from neurosim.memory import NTM   # noqa: F401  (this line)
    assert caught[0].filename == __file__ and caught[0].category is DeprecationWarning
    forget("neurosim.recurrent")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        neurosim.recurrent   # noqa: B018  (lazy attribute of the package)
    assert caught[0].filename == __file__


def test_the_old_package_keeps_its_names_and_functions():
    forget("neurosim.feedforward")
    with pytest.warns(DeprecationWarning):
        import neurosim.feedforward as ff
        import neurosim.feedforward.mlp        # the module path imports ...
        from neurosim.feedforward.capsnet import CapsNet
    assert ff.mlp is deep.mlp and ff.capsnet is deep.capsnet   # ... and the names stay functions
    assert CapsNet is deep.CapsNet and ff.gan is deep.gan and ff.GAN is deep.GAN
    assert sorted(ff.__all__) == sorted(n for n in ff.__all__ if getattr(ff, n) is getattr(deep, n))


def test_deep_re_exports_every_public_name_of_its_modules():
    for module in deep.MODULES:
        mod = importlib.import_module(f"neurosim.deep.{module}")
        assert all(getattr(deep, name) is getattr(mod, name) for name in mod.__all__)
    assert len(deep.__all__) == len(set(deep.__all__))


def test_zoo_points_at_the_new_modules():
    wing = [f for f in zoo.families() if f.group == "deep" and f.implementation]
    assert len(wing) == 20
    for family in wing:
        module = family.implementation.split(":")[0]
        born_here = module == "neurosim.deep.dnc"        # new in neurosim.deep, never moved
        assert module.startswith("neurosim.deep.") and (module in MOVED.values() or born_here)
        assert family.load() is getattr(deep, family.implementation.split(":")[1])


def test_the_package_exports_the_deep_models_lazily():
    import subprocess

    code = ("import sys, neurosim\n"
            "assert 'neurosim.deep' not in sys.modules\n"
            "from neurosim import GAN, NTM, Perceptron, VariationalAutoencoder\n"
            "import neurosim.deep as deep\n"
            "assert GAN is deep.GAN and NTM is deep.NTM and neurosim.nn.train\n"
            "assert 'deep' in dir(neurosim) and 'RBFNetwork' in dir(neurosim)\n")
    done = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
