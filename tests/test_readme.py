"""The README tells the truth: its commands, its family table and its example."""
import re
from pathlib import Path

import numpy as np

from neurosim import zoo

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
CI = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()


def test_first_lines_give_the_install_and_test_commands():
    block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    lines = [ln.split("#")[0].strip() for ln in block.strip().splitlines()]
    assert lines[0] == "pip install -e . && neurosim demo"
    test_command = lines[1]
    assert test_command.startswith('pip install -e ".[test]"') and "pytest" in test_command
    assert test_command in CI  # CI runs exactly the README's test command


def test_family_table_is_the_registry():
    assert zoo.table() in README


def test_ten_line_example_runs_as_printed(tmp_path, monkeypatch):
    code = re.search(r"## Ten lines\n\n```python\n(.*?)```", README, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(code, "README", "exec"), scope)
    ds = scope["ds"]
    assert np.allclose(ds.overlap.isel(sweep=-1).values.diagonal(), 1.0)
    assert (tmp_path / "recall.gif").is_file() and (tmp_path / "recall.nc").is_file()


def test_nn_docs_examples_run():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "nn.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    assert len(blocks) == 3
    scope = {}
    exec(compile(blocks[0], "docs/nn.md", "exec"), scope)
    assert scope["g"].shape == (3, 3) and scope["value"] > 0
    exec(compile(blocks[1].replace("epochs=20", "epochs=2").replace("progress=True", "progress=False"),
                 "docs/nn.md", "exec"), scope)
    assert scope["history"].sizes["epoch"] == 2
    exec(compile(blocks[2].replace("epochs=10", "epochs=1"), "docs/nn.md", "exec"), scope)
    assert scope["trace"].link.shape == (8, 9, 8, 8)
