"""The Ctrl+C harness itself, on a bare Run: set-up and mid-run presses are real SIGINTs."""
from interrupt import interrupted_run

TOY = """
import numpy as np
run = record.Run(10, chunk=2, sizes={}, grow=("step",))
with run:
    run.track("step", ("step",), np.int64)
    for start, n in run:
        run.keep(step=run.steps(start, n))
ds = run.dataset(family="X", model="Toy")
"""


def test_ctrl_c_in_set_up_gives_an_empty_interrupted_run(tmp_path):
    ds = interrupted_run(TOY, "setup", tmp_path)
    assert ds.attrs["interrupted"] == 1 and ds.sizes["step"] == 0


def test_ctrl_c_in_the_first_chunk_keeps_that_chunk(tmp_path):
    ds = interrupted_run(TOY, "run", tmp_path)
    assert ds.attrs["interrupted"] == 1 and ds["step"].values.tolist() == [0, 1]
