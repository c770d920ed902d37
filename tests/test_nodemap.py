"""Node maps (neurosim/zoomaps.py, neurosim/viz/nodemap.py): every implemented family's small
model draws, with the cell kinds its registry entry in zoo.py names; the groups and links are
the model's own (sizes, and which pairs are connected, checked against the model's weight
matrices); large layers are elided to a few cells with their true size; the poster has one map
per family and the catalogue's legend."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from neurosim import ELM, ESN, RBM, DBN, viz, zoo  # noqa: E402
from neurosim.viz.nodemap import CELL_COLOURS, shown_cells  # noqa: E402

IMPLEMENTED = [f.abbrev for f in zoo.families() if f.implementation is not None]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def drawn(ax, what):
    """The gids of ``what`` ("cell" or "link") drawn on ``ax``, split at ":"."""
    return [p.get_gid().split(":")[1:] for p in ax.patches if (p.get_gid() or "").startswith(what + ":")]


def test_the_catalogue_has_one_colour_per_cell_kind():
    assert tuple(CELL_COLOURS) == zoo.CELLS and len(zoo.CELLS) == 14
    assert len({c.lower() for c in CELL_COLOURS.values()}) == 14
    for f in zoo.families():
        assert f.kinds and set(f.kinds) <= set(zoo.CELLS), f.abbrev


@pytest.mark.parametrize("abbrev", IMPLEMENTED)
def test_each_family_draws_the_cells_its_registry_names(abbrev):
    model = zoo.tiny_model(abbrev)
    wiring = zoo.wiring(model)
    assert wiring.kinds() == zoo.get(abbrev).kinds
    ax = viz.node_map(model)
    kinds = {kind for kind, _, _ in drawn(ax, "cell")}
    assert kinds == set(zoo.get(abbrev).kinds)
    for kind, group, _ in drawn(ax, "cell"):                    # the colour says the kind
        cells = [p for p in ax.patches if p.get_gid() == f"cell:{kind}:{group}:{_}"]
        assert matplotlib.colors.same_color(cells[0].get_facecolor(), CELL_COLOURS[kind])
    assert drawn(ax, "link"), "no link drawn"


def test_large_layers_are_elided_with_their_true_size():
    esn = ESN(500, n_inputs=3, seed=0)
    ax = viz.node_map(esn, max_cells=5)
    cells = drawn(ax, "cell")
    reservoir = sorted(int(i) for kind, g, i in cells if kind == "recurrent")
    assert reservoir == [0, 1, 2, 3, 499]                    # the first ones and the last
    assert sum(kind == "input" for kind, _, _ in cells) == 3  # small groups are drawn whole
    texts = [t.get_text() for t in ax.texts]
    assert "500" in texts and "\u22ee" in texts
    assert shown_cells(4, 5) == ([0, 1, 2, 3], False)
    assert shown_cells(6, 5) == ([0, 1, 2, 3, 5], True)


def test_links_drawn_are_the_model_s_own_connections():
    """Between the cells shown, a reservoir pair is joined exactly where W has a weight."""
    esn = ESN(40, n_inputs=2, connectivity=0.3, input_connectivity=0.5, seed=2)
    ax = viz.node_map(esn, max_cells=8)
    shown, _ = shown_cells(40, 8)
    W = esn.W.toarray()
    expected = {(i, j) for i in shown for j in shown if W[j, i] != 0}      # W[post, pre]
    reservoir = {(int(i), int(j)) for s, t, i, j in drawn(ax, "link") if s == t == "1"}
    assert reservoir == expected and expected
    Win = esn.Win
    into = {(int(i), int(j)) for s, t, i, j in drawn(ax, "link") if (s, t) == ("0", "1")}
    assert into == {(i, j) for i in range(2) for j in shown if Win[j, i] != 0}


def test_wiring_is_read_from_the_models():
    w = zoo.wiring(RBM(7, 3, seed=0))
    assert [(g.size, g.cell) for g in w.groups] == [(7, "backfed input"), (3, "probabilistic hidden")]
    w = zoo.wiring(DBN([9, 6, 4, 2], seed=0))
    assert [g.size for g in w.groups] == [9, 6, 4, 2, 9]
    esn = ESN([10, 6], n_inputs=2, n_outputs=3, feedback_scaling=0.5, seed=1)
    w = zoo.wiring(esn)
    assert [(g.name, g.size) for g in w.groups] == [("input", 2), ("reservoir 1", 10), ("reservoir 2", 6),
                                                    ("readout", 3)]
    self_links = [l for l in w.links if l.source == l.target]
    assert sum(l.pattern.nnz for l in self_links) + next(
        l.pattern.nnz for l in w.links if (l.source, l.target) == (1, 2)) == esn.W.nnz
    assert any(l.source == 3 and l.target == 1 for l in w.links)        # output feedback
    hn = zoo.wiring(zoo.tiny_model("HN"))                                # all-to-all, no self-loops
    np.testing.assert_array_equal(hn.links[0].pattern, ~np.eye(8, dtype=bool))
    mc = zoo.tiny_model("MC")
    np.testing.assert_array_equal(zoo.wiring(mc).links[0].pattern, np.asarray(mc.P) != 0)
    ff = zoo.wiring(zoo.tiny_model("FF"))
    assert [(g.size, g.cell) for g in ff.groups] == [(4, "input"), (6, "hidden"), (5, "hidden"),
                                                     (3, "output")]
    lsm = zoo.tiny_model("LSM")
    w = zoo.wiring(lsm)
    sizes = {g.name: g.size for g in w.groups}
    assert sizes["exc"] == lsm.n_exc and sizes["inh"] == lsm.n_inh and sizes["readout"] == 2
    synapses = sum(p.W.nnz for p in lsm.network.projections)
    assert sum(l.pattern.nnz for l in w.links if not isinstance(l.pattern, str)) == synapses
    cnn = zoo.wiring(zoo.tiny_model("CNN"))
    assert [g.cell for g in cnn.groups][:4] == ["input", "kernel", "convolution or pool",
                                                "convolution or pool"]


def test_the_poster_draws_one_map_per_family():
    fig = viz.zoo_poster(max_cells=4)
    maps = [ax for ax in fig.axes if any((p.get_gid() or "").startswith("cell:") for p in ax.patches)]
    assert len(maps) == len(IMPLEMENTED)
    titles = [ax.get_title().split(":")[0] for ax in maps]
    assert titles == IMPLEMENTED
    legend = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert [t.get_text() for t in legend[0].get_texts()] == list(zoo.CELLS)
    for ax in maps:
        per_group = {}
        for _, group, _ in drawn(ax, "cell"):
            per_group[group] = per_group.get(group, 0) + 1
        assert max(per_group.values()) <= 4


def test_bad_input():
    with pytest.raises(TypeError, match="model must be a model of a zoo family"):
        viz.node_map("ESN")
    with pytest.raises(ValueError, match="max_cells must be >= 2"):
        viz.node_map(RBM(3, 2), max_cells=1)
    with pytest.raises(ValueError, match="fit it first"):
        viz.node_map(ELM(5))
    for f in zoo.families():
        if f.implementation is None:
            with pytest.raises(ValueError, match="not implemented"):
                zoo.tiny_model(f.abbrev)
    with pytest.raises(ValueError, match="unknown family"):
        viz.zoo_poster(["XYZ"])
    with pytest.raises(ValueError, match="at least one family"):
        viz.zoo_poster([])
