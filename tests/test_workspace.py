"""nn.workspace: arrays kept within LIMIT bytes (oldest shapes dropped first), handed out again
by shape and dtype, and released on request."""
import numpy as np

from neurosim.nn import workspace


def test_limit_keeps_reuse_and_release(monkeypatch):
    workspace.release()
    assert 256 * 2 ** 20 <= workspace.LIMIT <= 4 * 2 ** 30
    monkeypatch.setattr(workspace, "LIMIT", 3 * 8000)
    a = workspace.take((1000,), np.float64)
    workspace.give(a)
    assert workspace.take((1000,), np.float64) is a          # the kept array comes back
    assert workspace.take((1000,), np.float32) is not a      # another dtype: a fresh one
    arrays = [workspace.take((1000,), np.float64) for _ in range(2)] + [a]
    workspace.give(*arrays)
    b = workspace.take((500, 2), np.float64)
    workspace.give(b)                  # 4 arrays of 8000 bytes > LIMIT: the oldest shape goes
    assert workspace.take((1000,), np.float64) is not a
    assert workspace.take((500, 2), np.float64) is b
    workspace.give(b)
    assert workspace.release() == 8000 and workspace.release() == 0
    assert workspace.take((500, 2), np.float64) is not b
