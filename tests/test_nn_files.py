"""Model files of the gradient-trained families: netCDF written by ``save``, read back by
``load`` into a model built the same way (or, for the perceptron and the RBF network, by the
classmethod ``load``); foreign, truncated and other-model files are a ValueError naming the
file, and ``.npz`` states of earlier versions still load."""
import numpy as np
import pytest
import xarray as xr

from neurosim import HopfieldNetwork
from neurosim.deep import (DCIGN, NTM, Perceptron, RBFNetwork, VariationalAutoencoder,
                           capsnet, dense_gan, mlp)
from neurosim.nn.layers import BatchNorm, Dense, Sequential

R = np.random.default_rng(0)


def ntm(seed):
    machine = NTM(2, locations=6, width=3, controller=5)
    machine.build((5, 3), np.random.default_rng(seed))
    return machine


# builders of each model (the seed changes the weights, not the architecture) and an input
MODELS = {
    "mlp": (lambda s: mlp((4, 6, 3), seed=s), R.standard_normal((3, 4))),
    "batchnorm": (lambda s: Sequential(Dense(5), BatchNorm(), Dense(2), input_shape=(4,), seed=s),
                  R.standard_normal((3, 4))),
    "vae": (lambda s: VariationalAutoencoder((8, 6, 2, 6, 8), seed=s), R.uniform(size=(3, 8))),
    "dcign": (lambda s: DCIGN(latent=2, channels=(2,), code=(2, 2, 2), seed=s),
              R.uniform(size=(3, 64))),
    "gan": (lambda s: dense_gan(3, latent=2, hidden=(4,), seed=s), R.standard_normal((3, 2))),
    "capsnet": (lambda s: capsnet((1, 6, 6), 3, channels=4, primary_capsules=2, primary_dim=2,
                                  dim=3, decoder=(8,), seed=s), R.uniform(size=(2, 1, 6, 6))),
    "ntm": (ntm, R.standard_normal((2, 5, 3))),
}


def outputs(model, x):
    model.eval()
    return model(x).data


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_saved_model_loads_into_a_twin(name, tmp_path):
    make, x = MODELS[name]
    model, twin = make(0), make(1)
    assert not np.array_equal(outputs(model, x), outputs(twin, x))
    path = model.save(tmp_path / "model.nc")
    with xr.open_dataset(path) as ds:
        assert ds.attrs["model"] == type(model).__name__
        assert set(ds.data_vars) == set(model.state())
        assert all(ds[k].shape == v.shape for k, v in model.state().items())
    assert twin.load(path) is twin
    np.testing.assert_array_equal(outputs(twin, x), outputs(model, x))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_load_refuses_foreign_truncated_and_other_model_files(name, tmp_path):
    make, _ = MODELS[name]
    model = make(0)
    before = {k: v.copy() for k, v in model.state().items()}
    text = tmp_path / "notes.nc"
    text.write_text("not a model")
    hopfield = HopfieldNetwork(4).save(tmp_path / "hopfield.nc")
    bare = tmp_path / "bare.nc"
    xr.Dataset({"W": ("x", np.zeros(3))}).to_netcdf(bare)
    good = model.save(tmp_path / "good.nc")
    cut = tmp_path / "cut.nc"
    cut.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
    other_name = "mlp" if name != "mlp" else "gan"
    other = MODELS[other_name][0](0).save(tmp_path / "other.nc")
    cases = [(text, "not a readable netCDF"), (cut, "not a readable netCDF"),
             (hopfield, "holds a HopfieldNetwork"), (bare, "no neurosim model"),
             (tmp_path / "missing.nc", "no such file")]
    if type(MODELS[other_name][0](0)) is not type(model):
        cases.append((other, f"holds a {type(MODELS[other_name][0](0)).__name__}"))
    for path, match in cases:
        with pytest.raises(ValueError, match=match) as err:
            model.load(path)
        assert str(path) in str(err.value)
    assert all(np.array_equal(v, model.state()[k]) for k, v in before.items())  # untouched


def test_a_file_of_another_architecture_names_what_does_not_fit(tmp_path):
    path = mlp((4, 6, 3), seed=0).save(tmp_path / "m.nc")
    with pytest.raises(ValueError, match=r"m\.nc: state does not fit.*missing \['1\.beta'.*"
                                         r"unexpected \['1\.W', '1\.b'\]"):
        Sequential(Dense(6), BatchNorm(), Dense(3), input_shape=(4,)).load(path)
    with pytest.raises(ValueError, match=r"m\.nc: state '0\.W' has shape \(4, 6\)"):
        mlp((4, 7, 3)).load(path)


def test_npz_states_of_earlier_versions_still_load(tmp_path):
    model, twin = mlp((4, 6, 3), seed=0), mlp((4, 6, 3), seed=1)
    np.savez(tmp_path / "old.npz", **model.state())     # what save wrote before
    x = R.standard_normal((3, 4))
    np.testing.assert_array_equal(twin.load(tmp_path / "old.npz").predict(x), model.predict(x))
    data = (tmp_path / "old.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.npz is not a readable \.npz"):
        twin.load(tmp_path / "cut.npz")
    np.savez(tmp_path / "small.npz", **{"0.W": np.zeros((4, 6))})
    with pytest.raises(ValueError, match=r"small\.npz: state does not fit.*missing"):
        twin.load(tmp_path / "small.npz")


def fitted(name):
    X = R.standard_normal((30, 3))
    if name == "perceptron":
        return Perceptron(seed=1).fit(X, (X[:, 0] > 0).astype(int), epochs=5), X
    return RBFNetwork(6, seed=2).fit(X, np.sin(X[:, 0])), X


@pytest.mark.parametrize("cls", [Perceptron, RBFNetwork])
def test_fitted_models_round_trip_and_refuse_other_files(cls, tmp_path):
    model, X = fitted(cls.__name__.lower().replace("rbfnetwork", "rbf"))
    path = model.save(tmp_path / "model.nc")
    back = cls.load(path)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    assert back.seed == model.seed
    other = (RBFNetwork if cls is Perceptron else Perceptron)
    other_path = fitted("rbf" if cls is Perceptron else "perceptron")[0].save(tmp_path / "o.nc")
    cut = tmp_path / "cut.nc"
    cut.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    text = tmp_path / "text.nc"
    text.write_text("hello")
    for bad, match in [(other_path, f"holds a {other.__name__}"), (cut, "not a readable"),
                       (text, "not a readable"), (mlp((3, 2)).save(tmp_path / "m.nc"),
                                                  "holds a Sequential")]:
        with pytest.raises(ValueError, match=match) as err:
            cls.load(bad)
        assert str(bad) in str(err.value)
    with pytest.raises(ValueError, match="not fitted"):
        cls().save(tmp_path / "unfitted.nc")
