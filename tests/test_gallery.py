"""The gallery (tools/gallery.py, docs/gallery.md, docs/gallery/): its lists match the examples
on disk (no stale or missing entries), the page and the images agree, the images stay small,
and the caption parser and image shrinking do what they say. Nothing here runs the examples
(tests/test_examples.py does)."""
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GALLERY_DIR = ROOT / "docs" / "gallery"
PAGE = ROOT / "docs" / "gallery.md"


@pytest.fixture(scope="module")
def gallery():
    spec = importlib.util.spec_from_file_location("gallery_tool", ROOT / "tools" / "gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lists_match_the_examples_on_disk(gallery):
    scripts = {p.name for p in (ROOT / "examples").glob("*.py")}
    assert set(gallery.EXAMPLES) == scripts, (
        f"tools/gallery.py EXAMPLES is out of date: missing {sorted(scripts - set(gallery.EXAMPLES))}, "
        f"stale {sorted(set(gallery.EXAMPLES) - scripts)}")
    # a *_quick.toml is a smaller run of the sweep of the same name: the gallery shows the full one
    quick = {p.name for p in (ROOT / "examples" / "sweeps").glob("*_quick.toml")}
    configs = {p.name for p in (ROOT / "examples" / "sweeps").glob("*.toml")} - quick
    assert {name.replace("_quick", "") for name in quick} <= configs
    assert set(gallery.SWEEPS) == configs, (
        f"tools/gallery.py SWEEPS is out of date: missing {sorted(configs - set(gallery.SWEEPS))}, "
        f"stale {sorted(set(gallery.SWEEPS) - configs)}")
    assert gallery.QUICK <= set(gallery.EXAMPLES)
    for caption in list(gallery.EXAMPLES.values()) + [c for _, c in gallery.SWEEPS.values()]:
        assert caption and "\n" not in caption


def test_sweep_plot_variables_exist(gallery):
    """The variable each sweep's figure draws is one its experiment returns."""
    import neurosim.sweeps as S

    for config, (var, _) in gallery.SWEEPS.items():
        kw = S.read_config(ROOT / "examples" / "sweeps" / config)
        assert kw["fn"] in S.EXPERIMENTS
        if var is not None:
            assert var in S.EXPERIMENTS[kw["fn"]].__doc__, (config, var)


def test_page_and_images_agree():
    if not PAGE.is_file():
        pytest.skip("docs/gallery.md not generated yet (python tools/gallery.py)")
    text = PAGE.read_text()
    linked = re.findall(r"!\[[^\]]*\]\(gallery/([^)]+)\)", text)
    assert linked, "the gallery page shows no image"
    assert len(linked) == len(set(linked))
    on_disk = {p.name for p in GALLERY_DIR.iterdir() if p.is_file()}
    assert set(linked) == on_disk, (f"missing {sorted(set(linked) - on_disk)}, "
                                    f"unlisted {sorted(on_disk - set(linked))}")
    sections = re.findall(r"^## `(.+)`$", text, flags=re.M)
    expected = sorted(f"examples/{p.name}" for p in (ROOT / "examples").glob("*.py"))
    assert sorted(s for s in sections if not s.startswith("examples/sweeps/")) == expected
    total = sum((GALLERY_DIR / n).stat().st_size for n in on_disk)
    budget = 0.3e6 * len(expected)  # 300 kB an example on average
    assert total < budget, f"docs/gallery/ holds {total / 1e6:.1f} MB; keep it under {budget / 1e6:.1f} MB"
    assert all(n.endswith((".png", ".gif")) for n in on_disk)


def test_docstring_captions(gallery):
    source = '''"""Title line.

Writes to ``--out``:

- ``a.png``: the first figure, over
  two lines;
- ``b.png`` and ``c.gif``: shared caption with ``code``;
- ``d.nc``: not an image.

    python x.py --out out/
"""
'''
    caps = gallery.docstring_captions(source)
    assert caps == {"a.png": "The first figure, over two lines.",
                    "b.png": "Shared caption with `code`.", "c.gif": "Shared caption with `code`."}
    assert gallery.docstring_captions('"""No bullets here."""') == {}


def test_markdown_lists_every_file(gallery):
    text = gallery.markdown([("examples/x.py", "An example.", [("x.png", "A figure."), ("x.gif", "A film.")])])
    assert "## `examples/x.py`" in text and "python tools/gallery.py" in text
    assert "![A figure.](gallery/x.png)" in text and "![A film.](gallery/x.gif)" in text
    assert "![E(v | h).](gallery/y.png)" in gallery.markdown([("y.py", "Y.", [("y.png", "E[v | h].")])])


def test_shrinking_keeps_images_small(gallery, tmp_path):
    from PIL import Image

    png = tmp_path / "big.png"
    Image.new("RGB", (2400, 1200), "white").save(png)
    gallery.shrink_png(png)
    with Image.open(png) as im:
        assert im.size == (gallery.MAX_WIDTH, gallery.MAX_WIDTH // 2) and im.mode == "P"

    import numpy as np

    gif = tmp_path / "film.gif"
    noise = np.random.default_rng(0).integers(0, 255, (24, 120, 120, 3), dtype=np.uint8)
    frames = [Image.fromarray(f) for f in noise]
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=50, loop=0)
    gallery.shrink_gif(gif, max_bytes=150_000)
    with Image.open(gif) as im:
        assert im.n_frames in (12, 6)  # halved until small enough or at most 8 frames
        assert gif.stat().st_size <= 150_000 or im.n_frames <= 8
        assert im.info["duration"] == 50 * 24 // im.n_frames


def test_two_sources_may_not_share_a_file_name(gallery, tmp_path):
    from PIL import Image

    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (20, 10), "white").save(src / "fig.png")
    dest = tmp_path / "dest"
    dest.mkdir()
    assert gallery.keep([src / "fig.png"], dest) == ["fig.png"]
    with pytest.raises(RuntimeError, match="fig.png"):
        gallery.keep([src / "fig.png"], dest, taken={"fig.png"})
