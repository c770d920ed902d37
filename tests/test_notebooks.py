"""Every notebook in notebooks/ executes from top to bottom without an error (nbclient, kernel
python3), in a scratch folder so that the files it writes stay out of the repository."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from jupyter_client.kernelspec import NoSuchKernel

    # the kernel is a child process: it finds neurosim through PYTHONPATH
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=240, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except NoSuchKernel:
        pytest.skip("no python3 Jupyter kernel installed")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, errors
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if any(k.startswith("image/") for k in o.get("data", {}))]
    assert images, f"{path.name} showed no figure"
    if path.name == "01_hopfield.ipynb":
        from PIL import Image

        with Image.open(tmp_path / "out" / "letters_recall.gif") as im:
            assert im.n_frames >= 2


def test_hopfield_notebook_runs_the_letters_experiment():
    """Cheap structural check that runs without Jupyter: the notebook exists, is valid, and its
    code saves the recall animation and shows the Dataset, energy and overlap curves."""
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(ROOT / "notebooks" / "01_hopfield.ipynb", as_version=4)
    nbformat.validate(nb)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for needed in ("letters(", "noisy(", "HopfieldNetwork(", ".recall(", "print(ds)", "energy_curve(",
                   "overlap_curve(", "animate_recall(", "save_animation("):
        assert needed in source, needed
