"""Pattern data (letters, noisy cues, random patterns) and the plots and animations of
neurosim.viz, on a recall Dataset built here by hand with the Hopfield recall schema (so these
tests do not depend on the Hopfield family)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from hypothesis import given, strategies as st  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402
from PIL import Image  # noqa: E402

from neurosim import record, viz  # noqa: E402
from neurosim.datasets import letters, noisy, random_patterns  # noqa: E402
from neurosim.datasets.patterns import _parse_letters  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def naive_recall(cues, patterns, max_sweeps=10, seed=0):
    """Hebbian Hopfield recall, zero temperature, asynchronous in a fresh random order each sweep,
    written out plainly; returns the Dataset of the HopfieldNetwork.recall schema."""
    xi = patterns.astype(np.float64)
    P, N = xi.shape
    W = xi.T @ xi / N
    np.fill_diagonal(W, 0.0)
    g = np.random.default_rng(seed)
    runs = []
    for cue in cues:
        s = cue.astype(np.float64)
        traj = [s.copy()]
        for _ in range(max_sweeps):
            changed = False
            for i in g.permutation(N):
                new = 1.0 if W[i] @ s >= 0 else -1.0
                if new != s[i]:
                    s[i] = new
                    changed = True
            traj.append(s.copy())
            if not changed:
                break
        runs.append(traj)
    T = max(len(t) for t in runs)
    S = np.array([t + [t[-1]] * (T - len(t)) for t in runs])
    E = np.array([[-0.5 * s @ W @ s for s in run] for run in S])
    M = np.einsum("csi,pi->csp", S, xi) / N
    C = len(cues)
    return record.dataset(
        {"state": (("cue", "sweep", "unit"), S.astype(np.int8)),
         "final_state": (("cue", "unit"), S[:, -1].astype(np.int8)),
         "energy": (("cue", "sweep"), E),
         "overlap": (("cue", "sweep", "pattern"), M),
         "converged": ("cue", np.array([len(t) <= max_sweeps for t in runs])),
         "sweeps": ("cue", np.array([len(t) - 1 for t in runs], dtype=np.int64))},
        {"sweep": np.arange(T), "cue": np.arange(C), "pattern": np.arange(P)},
        family="HN", model="HopfieldNetwork", params={"n_units": N, "rule": "hebbian"}, seed=seed)


@pytest.fixture(scope="module")
def recall():
    xi, shape, names = letters("TLX")
    cues = noisy(xi, 0.2, seed=3)
    return naive_recall(cues, xi), xi, shape, names


# ---------------------------------------------------------------- letters

def test_letters_all_26_distinct_bipolar():
    X, shape, names = letters()
    assert names == tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert shape == (12, 12)
    assert X.shape == (26, 144) and X.dtype == np.int8
    assert set(np.unique(X)) == {-1, 1}
    hamming = (X[:, None, :] != X[None, :, :]).sum(-1)
    np.fill_diagonal(hamming, 144)
    assert hamming.min() >= 5  # O and Q are the closest pair
    ink = (X == 1).mean(1)
    assert np.all((ink > 0.2) & (ink < 0.6))


def test_letters_look_like_letters():
    X, shape, names = letters()
    img = {n: x.reshape(shape) for n, x in zip(names, X)}
    for n in "AHIMOTUVWXY":  # left-right mirror symmetric capitals
        assert np.array_equal(img[n], img[n][:, ::-1]), n
    for n in "HIOX":  # also up-down symmetric
        assert np.array_equal(img[n], img[n][::-1]), n
    assert np.all(img["L"][:, 1:3] == 1) and np.all(img["L"][-2:, 1:11] == 1)
    assert np.all(img["T"][:2, 1:11] == 1) and np.all(img["T"][2:, 5:7] == 1)
    assert np.array_equal(img["E"][:10], img["F"][:10])  # E is F with a foot
    assert not np.array_equal(img["E"], img["F"])


def test_letters_selection():
    X, shape, names = letters()
    sub, shape2, chosen = letters("hoPE")
    assert chosen == ("H", "O", "P", "E") and shape2 == shape
    assert np.array_equal(sub, X[[7, 14, 15, 4]])
    twice, _, _ = letters(["A", "a"])
    assert np.array_equal(twice[0], twice[1])
    sub[0, 0] = 5  # a copy: the cached bitmaps stay intact
    assert letters("H")[0][0, 0] == X[7, 0]


@pytest.mark.parametrize("bad, err", [("", ValueError), ("A1", ValueError), (["AB"], ValueError),
                                      (5, TypeError), ([1], ValueError)])
def test_letters_bad_names(bad, err):
    with pytest.raises(err, match="names"):
        letters(bad)


def test_parse_letters_rejects_bad_files():
    with pytest.raises(ValueError, match="widths"):
        _parse_letters("A\n##.\n#.\n")
    with pytest.raises(ValueError, match="before any letter"):
        _parse_letters("##\n##\n")
    with pytest.raises(ValueError, match="the others"):
        _parse_letters("A\n##\n##\nB\n###\n###\n")
    names, bm, shape = _parse_letters("# comment\nA\n#.\n.#\n\nB\n..\n##\n")
    assert names == ("A", "B") and shape == (2, 2)
    assert bm.tolist() == [[[1, -1], [-1, 1]], [[-1, -1], [1, 1]]]


# ---------------------------------------------------------------- noisy cues

@given(P=st.integers(1, 6), N=st.integers(1, 60), flip=st.floats(0, 1), seed=st.integers(0, 2**32))
def test_noisy_flips_exactly_round_flip_n(P, N, flip, seed):
    xi = random_patterns(P, N, seed)
    cues = noisy(xi, flip, seed)
    assert cues.dtype == np.int8 and cues.shape == (P, N)
    assert set(np.unique(cues)) <= {-1, 1}
    assert np.all((cues != xi).sum(1) == round(flip * N))
    assert np.array_equal(cues[xi == cues], xi[xi == cues])
    assert np.array_equal(cues[xi != cues], -xi[xi != cues])


def test_noisy_is_uniform_and_seeded():
    xi = np.ones((4000, 10), dtype=np.int8)
    cues = noisy(xi, 0.3, seed=1)
    freq = (cues == -1).mean(0)  # each unit flipped with probability 3/10
    assert np.all(np.abs(freq - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 4000))
    assert np.array_equal(cues, noisy(xi, 0.3, seed=1))
    assert not np.array_equal(cues, noisy(xi, 0.3, seed=2))
    # different rows get different subsets
    assert len({tuple(r) for r in cues[:50]}) > 30


def test_noisy_edge_cases_and_binary():
    xi = random_patterns(3, 20, seed=0)
    assert np.array_equal(noisy(xi, 0.0, 0), xi)
    assert np.array_equal(noisy(xi, 1.0, 0), -xi)
    one = noisy(xi[0], 0.25, seed=4)
    assert one.shape == (20,) and (one != xi[0]).sum() == 5
    binary = (xi > 0).astype(np.int8)
    cb = noisy(binary, 0.5, seed=1)
    assert set(np.unique(cb)) <= {0, 1} and np.all((cb != binary).sum(1) == 10)
    # WORKLOADS.md: N = 1024 with 20% flipped is exactly 205 bits
    big = random_patterns(2, 1024, seed=0)
    assert np.all((noisy(big, 0.2, 0) != big).sum(1) == 205)


@pytest.mark.parametrize("patterns, flip, err, word", [
    (np.ones((2, 4)), 1.5, ValueError, "flip"),
    (np.ones((2, 4)), -0.1, ValueError, "flip"),
    (np.ones((2, 4)), float("nan"), ValueError, "flip"),
    (np.ones((2, 4)), "0.1", TypeError, "flip"),
    (np.full((2, 4), 2), 0.1, ValueError, "patterns"),
    (np.array([[1, -1, 0]]), 0.1, ValueError, "patterns"),
    (np.ones((2, 2, 2)), 0.1, ValueError, "patterns"),
    (np.ones((0, 4)), 0.1, ValueError, "patterns"),
    (np.array([[1.0, np.nan]]), 0.1, ValueError, "patterns"),
    ([["a", "b"]], 0.1, TypeError, "patterns"),
])
def test_noisy_bad_input(patterns, flip, err, word):
    with pytest.raises(err, match=word):
        noisy(patterns, flip, seed=0)


def test_noisy_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        noisy(np.ones(4), 0.5, seed=-1)


# ---------------------------------------------------------------- random patterns

def test_random_patterns_bias_and_seed():
    a = random_patterns(20, 500, seed=5)
    assert a.shape == (20, 500) and a.dtype == np.int8 and set(np.unique(a)) == {-1, 1}
    assert abs(a.mean()) < 4 / np.sqrt(a.size)
    assert np.array_equal(a, random_patterns(20, 500, seed=5))
    b = random_patterns(20, 500, seed=5, bias=0.4)
    assert abs(b.mean() - 0.4) < 4 * np.sqrt((1 - 0.4**2) / b.size)
    assert np.all(random_patterns(2, 7, 0, bias=1.0) == 1)
    assert np.all(random_patterns(2, 7, 0, bias=-1.0) == -1)


@pytest.mark.parametrize("args, err, word", [((0, 5), ValueError, "P"), ((2, 0), ValueError, "N"),
                                             ((2.5, 5), TypeError, "P"), ((2, 5, 0, 1.5), ValueError, "bias"),
                                             ((2, 5, 0, float("inf")), ValueError, "bias")])
def test_random_patterns_bad_input(args, err, word):
    with pytest.raises(err, match=word):
        random_patterns(*args)


# ---------------------------------------------------------------- state grid and curves

def test_naive_recall_fixture_is_sane(recall):
    ds, xi, shape, names = recall
    # energies never increase under zero-temperature asynchronous updates
    assert np.all(np.diff(ds.energy.values, axis=1) <= 1e-9)
    assert np.array_equal(ds.state.values[:, -1], ds.final_state.values)


def test_state_grid_image_is_the_state():
    xi, shape, _ = letters("K")
    ax = viz.state_grid(xi[0], shape, title="K")
    im = ax.images[-1]
    assert np.array_equal(im.get_array(), xi[0].reshape(shape))
    assert im.get_clim() == (-1.0, 1.0) and ax.get_title() == "K"
    binary = (xi[0] > 0).astype(int)
    fig, ax2 = plt.subplots()
    assert viz.state_grid(binary, shape, ax2) is ax2
    assert ax2.images[-1].get_clim() == (0.0, 1.0)
    ax3 = viz.state_grid(xi[0].reshape(shape))  # 2-D needs no shape
    assert np.array_equal(ax3.images[-1].get_array(), xi[0].reshape(shape))
    assert viz.state_grid(xr.DataArray(xi[0], dims="unit"), shape).images[-1].get_array().shape == shape


@pytest.mark.parametrize("state, shape, err, word", [
    (np.ones(12), (3, 5), ValueError, "shape"),
    (np.ones(12), None, ValueError, "shape"),
    (np.ones(12), 12, TypeError, "shape"),
    (np.ones(12), (3, 4.0), TypeError, "shape"),
    (np.ones((2, 2, 3)), None, ValueError, "state"),
    (np.array([]), (0, 1), ValueError, "state"),
    ("abc", (1, 3), TypeError, "state"),
])
def test_state_grid_bad_input(state, shape, err, word):
    with pytest.raises(err, match=word):
        viz.state_grid(state, shape)


def test_state_grid_bad_ax():
    with pytest.raises(TypeError, match="ax"):
        viz.state_grid(np.ones(4), (2, 2), ax="left")


def test_energy_curve_lines_are_the_energies(recall):
    ds = recall[0]
    ax = viz.energy_curve(ds)
    lines = ax.get_lines()
    assert len(lines) == ds.sizes["cue"]
    for c, line in enumerate(lines):
        assert np.array_equal(line.get_xdata(), ds.sweep.values)
        assert np.array_equal(line.get_ydata(), ds.energy.values[c])
    assert ax.get_xlabel() == "sweep" and ax.get_legend() is not None
    ax2 = viz.energy_curve(ds, cues=[2, 0])
    assert [ln.get_label() for ln in ax2.get_lines()] == ["cue 2", "cue 0"]
    assert np.array_equal(ax2.get_lines()[0].get_ydata(), ds.energy.values[2])
    ax3 = viz.energy_curve(ds.energy.isel(cue=1))  # a DataArray with the sweep dim only
    assert np.array_equal(ax3.get_lines()[0].get_ydata(), ds.energy.values[1])


def test_curve_is_generic_over_time_dims():
    loss = np.array([[3.0, 2.0, 1.5, 1.2], [2.5, 2.2, 2.0, 1.9]])
    ds = xr.Dataset({"loss": (("run", "epoch"), loss, {"long_name": "loss", "units": "nats"})},
                    coords={"epoch": np.arange(1, 5)})
    ax = viz.curve(ds, "loss", labels=["a", "b"])
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss [nats]"
    assert np.array_equal(ax.get_lines()[1].get_xdata(), [1, 2, 3, 4])
    assert np.array_equal(ax.get_lines()[1].get_ydata(), loss[1])
    ds2 = xr.Dataset({"rate": (("step",), np.arange(5.0))})
    assert len(viz.curve(ds2, "rate").get_lines()) == 1
    ds3 = xr.Dataset({"x": (("chain", "t"), np.ones((2, 3)))})
    assert len(viz.curve(ds3, "x", dim="t").get_lines()) == 2


def test_curve_bad_input(recall):
    ds = recall[0]
    with pytest.raises(ValueError, match="no variable 'magnetisation'"):
        viz.energy_curve(ds, var="magnetisation")
    with pytest.raises(ValueError, match="select the others"):
        viz.curve(ds, "overlap")
    with pytest.raises(ValueError, match="time-like"):
        viz.curve(ds, "final_state")
    with pytest.raises(ValueError, match="dim"):
        viz.energy_curve(ds, dim="epoch")
    with pytest.raises(ValueError, match="cues|select"):
        viz.energy_curve(ds, cues=[7])
    with pytest.raises(ValueError, match="labels"):
        viz.curve(ds, "energy", labels=["x"])
    with pytest.raises(TypeError, match="ds"):
        viz.energy_curve(ds.energy.values)


def test_overlap_curve_lines_are_the_overlaps(recall):
    ds, xi, shape, names = recall
    ax = viz.overlap_curve(ds, cue=1, labels=names)
    lines = ax.get_lines()[: ds.sizes["pattern"]]
    assert [ln.get_label() for ln in lines] == list(names)
    for p, line in enumerate(lines):
        assert np.array_equal(line.get_ydata(), ds.overlap.values[1, :, p])
    assert ax.get_ylim() == (-1.05, 1.05) and ax.get_title() == "cue 1"
    default = viz.overlap_curve(ds)
    assert default.get_lines()[0].get_label() == "pattern 0"
    with pytest.raises(ValueError, match="cue"):
        viz.overlap_curve(ds, cue=3)
    with pytest.raises(TypeError, match="cue"):
        viz.overlap_curve(ds, cue="first")


def test_recall_grid(recall):
    ds, xi, shape, names = recall
    fig = viz.recall_grid(ds, shape, patterns=xi, labels=names)
    axes = np.array(fig.axes).reshape(3, ds.sizes["cue"])
    for c in range(ds.sizes["cue"]):
        assert np.array_equal(axes[0, c].images[0].get_array(), ds.state.values[c, 0].reshape(shape))
        assert np.array_equal(axes[1, c].images[0].get_array(), ds.final_state.values[c].reshape(shape))
    best = ds.overlap.values[:, -1].argmax(1)
    assert axes[1, 0].get_title().startswith(names[best[0]] + ": m=")
    small = viz.recall_grid(ds.drop_vars(["state", "overlap"]), shape, cues=1)
    assert len(small.axes) == 1
    with pytest.raises(ValueError, match="shape"):
        viz.recall_grid(ds, (5, 5))
    with pytest.raises(ValueError, match="patterns"):
        viz.recall_grid(ds, shape, patterns=xi[:, :10])
    with pytest.raises(TypeError, match="ds"):
        viz.recall_grid(ds.final_state, shape)
    with pytest.raises(ValueError, match="final_state"):
        viz.recall_grid(ds.drop_vars("final_state"), shape)


# ---------------------------------------------------------------- animation

def test_animation_one_frame_per_sweep_and_gif(recall, tmp_path):
    ds, xi, shape, names = recall
    anim = viz.animate_recall(ds, shape, interval=100, labels=names)
    assert isinstance(anim, FuncAnimation)
    n = ds.sizes["sweep"]
    assert len(list(anim.new_frame_seq())) == n
    path = viz.save_animation(anim, tmp_path / "sub" / "recall.gif", fps=4, dpi=40)
    assert path.exists()
    with Image.open(path) as im:
        assert im.format == "GIF" and im.n_frames == n
    # after saving, the figure shows the last sweep: the final states and whole energy traces
    fig = anim._fig
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == ds.sizes["cue"]
    for c, ax in enumerate(image_axes):
        assert np.array_equal(ax.images[0].get_array(), ds.final_state.values[c].reshape(shape))
    energy_ax = [ax for ax in fig.axes if not ax.images][0]
    for c, line in enumerate(energy_ax.get_lines()):
        assert np.array_equal(line.get_ydata(), ds.energy.values[c])
    best = ds.overlap.values[0, -1].argmax()
    assert image_axes[0].get_title().startswith(f"cue 0: {names[best]} m=")


def test_animation_without_energy_single_state():
    # a generic trajectory: dims (step, neuron), no cue dim, no energy
    traj = np.where(np.random.default_rng(0).random((5, 6)) < 0.5, 1, 0)
    ds = xr.Dataset({"state": (("step", "neuron"), traj)})
    anim = viz.animate_recall(ds, (2, 3), energy=None)
    assert len(list(anim.new_frame_seq())) == 5
    html = anim.to_jshtml()
    assert "<img" in html or "animation" in html.lower()


@pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")
def test_animation_bad_input(recall, tmp_path):
    ds, xi, shape, names = recall
    with pytest.raises(ValueError, match="record='sweeps'"):
        viz.animate_recall(ds.drop_vars("state"), shape)
    with pytest.raises(ValueError, match="shape"):
        viz.animate_recall(ds, (12, 11))
    with pytest.raises(ValueError, match="cues"):
        viz.animate_recall(ds, shape, cues=[0, 9])
    with pytest.raises(ValueError, match="interval"):
        viz.animate_recall(ds, shape, interval=0)
    with pytest.raises(ValueError, match="labels"):
        viz.animate_recall(ds, shape, labels=["A"])
    with pytest.raises(TypeError, match="ds"):
        viz.animate_recall(ds.state, shape)
    anim = viz.animate_recall(ds, shape, cues=0)
    with pytest.raises(ValueError, match=r"\.gif"):
        viz.save_animation(anim, tmp_path / "a.mp4")
    with pytest.raises(ValueError, match="fps"):
        viz.save_animation(anim, tmp_path / "a.gif", fps=0)
    with pytest.raises(TypeError, match="anim"):
        viz.save_animation(plt.figure(), tmp_path / "a.gif")
    del anim
    import gc

    gc.collect()  # the unsaved animation warns here, inside this test's filter


def test_confusion_matrix_counts_and_errors():
    from neurosim.viz import confusion_matrix

    y, p = np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 2, 0])
    ax = confusion_matrix(y, p)
    conf = ax.images[0].get_array()
    np.testing.assert_array_equal(conf, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert sorted(int(t.get_text()) for t in ax.texts) == [1, 1, 1, 1, 2]
    assert "0.667" in ax.get_title()
    assert confusion_matrix(y, p, classes=5).images[0].get_array().shape == (5, 5)
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(y, p[:3])
    with pytest.raises(ValueError, match="non-negative"):
        confusion_matrix(y - 1, p)
    with pytest.raises(ValueError, match="classes"):
        confusion_matrix(y, p, classes=2)
    plt.close("all")


@pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")
def test_image_strip_and_animation_show_the_images_in_order(tmp_path):
    t = np.linspace(0, 1, 5)
    images = t[:, None] * np.ones((5, 6))                    # image i is uniformly t[i]
    fig = viz.image_strip(images, t, (2, 3), shown=3, suptitle="path", vmin=0, vmax=1)
    shown = [ax.images[-1].get_array().mean() for ax in fig.axes]
    assert shown == pytest.approx([0.0, 0.5, 1.0]) and [ax.get_title() for ax in fig.axes] == \
        ["t=0.00", "t=0.50", "t=1.00"]
    anim = viz.animate_images(images.reshape(5, 2, 3), t, title="a -> b: t = {:.2f}", bounce=True,
                              vmin=0, vmax=1)
    assert list(anim.new_frame_seq()) == [0, 1, 2, 3, 4, 4, 3, 2, 1, 0]   # forward, then back
    path = viz.save_animation(anim, tmp_path / "path.gif", fps=10)
    with Image.open(path) as im:
        assert im.n_frames == 9                              # Pillow merges the twin middle frame
        im.seek(2)
        assert np.ptp(np.asarray(im.convert("L"))) > 0       # a title and an image are drawn
    assert list(viz.animate_images(images, t, (2, 3)).new_frame_seq()) == [0, 1, 2, 3, 4]
    plt.close("all")


@pytest.mark.parametrize("images, t, shape, word", [
    (np.ones((3, 6)), np.arange(3), None, "shape"),
    (np.ones((3, 6)), np.arange(4), (2, 3), "one value per image"),
    (np.ones((3, 6)), np.arange(3), (4, 4), "holds 16 units"),
    (np.ones(6), np.arange(1), (2, 3), "images"),
])
@pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")
def test_image_sequence_plots_bad_input(images, t, shape, word):
    for draw in (viz.image_strip, viz.animate_images):
        with pytest.raises(ValueError, match=word):
            draw(images, t, shape)
