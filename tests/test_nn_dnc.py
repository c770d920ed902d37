"""DNC memory ops: against plain NumPy loops written from the paper's equations (Graves et al.
2016, Methods), finite differences, the tie-break of the usage sort, and bad input."""
import numpy as np
import pytest

from neurosim.nn import check_gradients
from neurosim.nn import dnc
from neurosim.nn import memory as nm
from neurosim.nn.gradcheck import numerical_gradient

B, N, W, R = 2, 5, 3, 2


# ---------------------------------------------------------------- references, one sample at a time
def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def oneplus(x):
    return 1 + np.log1p(np.exp(x))


def ref_content(M, k, beta, eps=nm.EPS):
    cos = np.array([k @ m / (np.sqrt(k @ k + eps) * np.sqrt(m @ m + eps)) for m in M])
    e = np.exp(beta * cos)
    return e / e.sum()


def ref_interface(raw):
    """The interface vector split and activated, in the paper's order."""
    parts, at = {}, 0
    for name, size, fn in (("read_keys", R * W, None), ("read_strengths", R, oneplus),
                           ("write_key", W, None), ("write_strength", 1, oneplus),
                           ("erase", W, sigmoid), ("write_vector", W, None),
                           ("free_gates", R, sigmoid), ("allocation_gate", 1, sigmoid),
                           ("write_gate", 1, sigmoid), ("read_modes", 3 * R, None)):
        x = raw[at:at + size]
        at += size
        parts[name] = fn(x) if fn else x
    parts["read_keys"] = parts["read_keys"].reshape(R, W)
    modes = np.exp(parts["read_modes"].reshape(R, 3))
    parts["read_modes"] = modes / modes.sum(1, keepdims=True)
    for name in ("write_strength", "allocation_gate", "write_gate"):
        parts[name] = parts[name][0]
    assert at == len(raw)
    return parts


def ref_usage(u, ww, wr, free):
    psi = np.ones(len(u))
    for i in range(len(free)):
        psi *= 1 - free[i] * wr[i]
    return (u + ww - u * ww) * psi


def ref_allocation(u, order=None):
    """The paper's allocation; ``order`` (the free list) defaults to ascending usage, ties by
    ascending location."""
    if order is None:
        order = sorted(range(len(u)), key=lambda j: (u[j], j))
    a = np.zeros(len(u))
    for k, j in enumerate(order):
        a[j] = (1 - u[j]) * np.prod([u[order[m]] for m in range(k)])
    return a


def ref_link(L, p, ww):
    n = len(ww)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                out[i, j] = (1 - ww[i] - ww[j]) * L[i, j] + ww[i] * p[j]
    return out


def ref_read_weighting(M, L, previous, keys, strengths, modes):
    out = np.zeros((len(keys), len(M)))
    for i in range(len(keys)):
        forward, backward = L @ previous[i], L.T @ previous[i]
        out[i] = (modes[i, 0] * backward + modes[i, 1] * ref_content(M, keys[i], strengths[i])
                  + modes[i, 2] * forward)
    return out


def ref_step(state, raw):
    """One step of the DNC's memory access for one sample: state dict -> new state dict."""
    xi = ref_interface(raw)
    u = ref_usage(state["usage"], state["write_weighting"], state["read_weighting"],
                  xi["free_gates"])
    a = ref_allocation(u)
    c = ref_content(state["memory"], xi["write_key"], xi["write_strength"])
    ww = xi["write_gate"] * (xi["allocation_gate"] * a + (1 - xi["allocation_gate"]) * c)
    M = (state["memory"] * (1 - np.outer(ww, xi["erase"])) + np.outer(ww, xi["write_vector"]))
    L = ref_link(state["link"], state["precedence"], ww)
    p = (1 - ww.sum()) * state["precedence"] + ww
    wr = ref_read_weighting(M, L, state["read_weighting"], xi["read_keys"],
                            xi["read_strengths"], xi["read_modes"])
    return {"memory": M, "usage": u, "link": L, "precedence": p, "write_weighting": ww,
            "read_weighting": wr, "read_vectors": wr @ M}


@pytest.fixture
def inputs():
    r = np.random.default_rng(0)
    return dict(memory=r.standard_normal((B, N, W)), usage=r.random((B, N)),
                write=r.dirichlet(np.ones(N), B) * 0.9, reads=r.dirichlet(np.ones(N), (B, R)),
                free=r.random((B, R)), link=r.random((B, N, N)) / N,
                precedence=r.dirichlet(np.ones(N), B) * 0.8, keys=r.standard_normal((B, R, W)),
                strengths=1 + 3 * r.random((B, R)), modes=r.dirichlet(np.ones(3), (B, R)),
                key=r.standard_normal((B, W)), strength=1 + 2 * r.random(B),
                gates=r.random((2, B)))


# ---------------------------------------------------------------- each stage against the paper
def test_interface_splits_and_activates_in_the_papers_order():
    raw = np.random.default_rng(1).standard_normal((B, dnc.interface_size(W, R)))
    y = dnc.interface(raw, W, R).data
    parts = dnc.views(y, dnc.interface_layout(W, R))
    for b in range(B):
        for name, want in ref_interface(raw[b]).items():
            np.testing.assert_allclose(parts[name][b], want, rtol=1e-12, err_msg=name)
    assert dnc.interface_size(W, R) == R * W + 3 * W + 5 * R + 3 == raw.shape[1]


def test_usage_allocation_link_precedence_match_paper(inputs):
    i = inputs
    u = dnc.usage(i["usage"], i["write"], i["reads"], i["free"]).data
    a = dnc.allocation(i["usage"]).data
    L = dnc.link(i["link"], i["precedence"], i["write"]).data
    p = dnc.precedence(i["precedence"], i["write"]).data
    for b in range(B):
        np.testing.assert_allclose(u[b], ref_usage(i["usage"][b], i["write"][b], i["reads"][b],
                                                   i["free"][b]), rtol=1e-12)
        np.testing.assert_allclose(a[b], ref_allocation(i["usage"][b]), rtol=1e-12)
        np.testing.assert_allclose(L[b], ref_link(i["link"][b], i["precedence"][b],
                                                  i["write"][b]), rtol=1e-12)
        np.testing.assert_allclose(p[b], (1 - i["write"][b].sum()) * i["precedence"][b]
                                   + i["write"][b], rtol=1e-12)
    assert np.all(np.diagonal(L, axis1=1, axis2=2) == 0)
    # a weighting at most 1 in total: the allocation, link rows and columns stay <= 1
    assert np.all(a.sum(1) <= 1 + 1e-12) and np.all(L.sum(2) <= 1 + 1e-12)


def test_write_and_read_weightings_match_paper(inputs):
    i = inputs
    ga, gw = i["gates"]
    a = dnc.allocation(i["usage"]).data
    ww = dnc.write_weighting(i["memory"], i["key"], i["strength"], a, ga, gw).data
    wr = dnc.read_weighting(i["memory"], i["link"], i["reads"], i["keys"], i["strengths"],
                            i["modes"]).data
    for b in range(B):
        c = ref_content(i["memory"][b], i["key"][b], i["strength"][b])
        np.testing.assert_allclose(ww[b], gw[b] * (ga[b] * a[b] + (1 - ga[b]) * c), rtol=1e-12)
        np.testing.assert_allclose(wr[b], ref_read_weighting(
            i["memory"][b], i["link"][b], i["reads"][b], i["keys"][b], i["strengths"][b],
            i["modes"][b]), rtol=1e-12)


def test_access_is_the_papers_step_over_several_steps():
    r = np.random.default_rng(2)
    layout = dnc.state_layout(N, W, R)
    state = np.zeros((B, dnc.state_size(N, W, R)))
    refs = [{k: np.zeros(shape) for k, (_, shape) in layout.items()} for _ in range(B)]
    for t in range(6):
        raw = 2 * r.standard_normal((B, dnc.interface_size(W, R)))
        trace = []
        state = dnc.access(state, raw, N, W, R, trace=trace).data
        got = dnc.views(state, layout)
        for b in range(B):
            refs[b] = ref_step(refs[b], raw[b])
            for name, want in refs[b].items():
                np.testing.assert_allclose(got[name][b], want, rtol=1e-10, atol=1e-14,
                                           err_msg=f"{name} at step {t}")
        np.testing.assert_array_equal(trace[0]["usage"], got["usage"])
        assert trace[0]["allocation"].shape == (B, N)
    assert np.all(got["usage"] > 0) and np.all(got["usage"] <= 1)
    np.testing.assert_allclose(got["read_weighting"].sum(-1) <= 1 + 1e-12, True)


def staged_access(state, raw):
    """:func:`dnc.access` composed from the stage ops (and the NTM's write and read) on the
    tape: the fused kernels must give the same values and gradients."""
    from neurosim.nn import ops
    layout = dnc.state_layout(N, W, R)
    prev = {k: ops.reshape(state[:, part], (len(raw),) + shape)
            for k, (part, shape) in layout.items()}
    y = dnc.interface(raw, W, R)
    xi = {k: ops.reshape(y[:, part], (len(raw),) + shape)
          for k, (part, shape) in dnc.interface_layout(W, R).items()}
    u = dnc.usage(prev["usage"], prev["write_weighting"], prev["read_weighting"],
                  xi["free_gates"])
    ww = dnc.write_weighting(prev["memory"], xi["write_key"], xi["write_strength"],
                             dnc.allocation(u), xi["allocation_gate"], xi["write_gate"])
    memory = nm.write(prev["memory"], ops.reshape(ww, (len(raw), 1, N)),
                      ops.reshape(xi["erase"], (len(raw), 1, W)),
                      ops.reshape(xi["write_vector"], (len(raw), 1, W)))
    link = dnc.link(prev["link"], prev["precedence"], ww)
    wr = dnc.read_weighting(memory, link, prev["read_weighting"], xi["read_keys"],
                            xi["read_strengths"], xi["read_modes"])
    parts = [memory, u, link, dnc.precedence(prev["precedence"], ww), ww, wr,
             nm.read(memory, wr)]
    return ops.concatenate([ops.reshape(t, (len(raw), -1)) for t in parts], axis=1)


def test_fused_access_is_the_stage_ops_values_and_gradients():
    from neurosim.nn import value_and_grad
    r = np.random.default_rng(7)
    state = np.zeros((B, dnc.state_size(N, W, R)))
    for _ in range(4):
        state = dnc.access(state, 2 * r.standard_normal((B, dnc.interface_size(W, R))),
                           N, W, R).data
    raw = 2 * r.standard_normal((B, dnc.interface_size(W, R)))
    weights = r.standard_normal(state.shape)
    fused = value_and_grad(lambda s, x: (dnc.access(s, x, N, W, R) * weights).sum(), (0, 1))
    staged = value_and_grad(lambda s, x: (staged_access(s, x) * weights).sum(), (0, 1))
    (v1, g1), (v2, g2) = fused(state, raw), staged(state, raw)
    assert float(v1) == pytest.approx(float(v2), rel=1e-13)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


# ---------------------------------------------------------------- the usage sort's tie-break
def test_allocation_ties_go_to_the_lower_location():
    u = np.array([[0.5, 0.2, 0.5, 0.2, 0.1], [0.0, 0.0, 0.0, 0.0, 0.0]])
    a = dnc.allocation(u).data
    # free list 4, 1, 3, 0, 2 (0.2 at locations 1 and 3: 1 first; 0.5 at 0 and 2: 0 first)
    np.testing.assert_allclose(a[0], [0.5 * 0.1 * 0.2 * 0.2, 0.8 * 0.1, 0.5 * 0.1 * 0.2 * 0.2 * 0.5,
                                      0.8 * 0.1 * 0.2, 0.9], rtol=1e-14)
    np.testing.assert_array_equal(a[1], [1, 0, 0, 0, 0])     # a fresh memory: location 0 first
    assert dnc.allocation(np.full((1, 4), 0.3)).data.argmax() == 0


def test_allocation_gradient_at_a_tie_holds_the_tie_breaks_order():
    """At a tie the function jumps (the order flips); its gradient is that of the product with
    the tie-break's free list fixed, the limit from the side where that order holds."""
    u = np.array([0.5, 0.2, 0.5, 0.2, 0.1])
    order = [4, 1, 3, 0, 2]
    weights = np.random.default_rng(3).standard_normal(5)
    _, got = dnc_value_and_grad(u, weights)
    fixed = numerical_gradient(lambda v: ref_allocation(v, order) @ weights, u)
    np.testing.assert_allclose(got, fixed, rtol=1e-8, atol=1e-10)
    side = u + np.array([0, -1e-9, 0, 1e-9, 0]) + np.array([-1e-9, 0, 1e-9, 0, 0])
    np.testing.assert_allclose(got, dnc_value_and_grad(side, weights)[1], atol=1e-7)
    # the other order, across the jump, gives another gradient
    flipped = numerical_gradient(lambda v: ref_allocation(v, [4, 3, 1, 2, 0]) @ weights, u)
    assert not np.allclose(got, flipped, atol=1e-3)
    # ... and a central difference straddling the tie sees the jump, not a gradient
    assert abs(numerical_gradient(lambda v: dnc.allocation(v[None]).data[0] @ weights, u)[1]
               - got[1]) > 1


def dnc_value_and_grad(u, weights):
    from neurosim.nn import value_and_grad
    return value_and_grad(lambda v: (dnc.allocation(v[None])[0] * weights).sum())(u)


def test_all_ties_allocate_in_location_order_step_by_step():
    """A fresh memory (usage 0 everywhere) with write gate 1 and allocation gate 1 writes
    locations 0, 1, 2, ... in turn (nothing is freed), and the link matrix chains them."""
    raw = np.zeros((1, dnc.interface_size(W, 1)))
    face = dnc.views(raw, dnc.interface_layout(W, 1))
    face["allocation_gate"][...] = face["write_gate"][...] = 50.0
    face["free_gates"][...] = -50.0
    state = np.zeros((1, dnc.state_size(N, W, 1)))
    written = []
    for _ in range(N):
        state = dnc.access(state, raw, N, W, 1).data
        ww = dnc.views(state, dnc.state_layout(N, W, 1))["write_weighting"][0]
        written.append(int(ww.argmax()))
        assert ww.max() > 0.99
    assert written == list(range(N))
    L = dnc.views(state, dnc.state_layout(N, W, 1))["link"][0]
    np.testing.assert_array_equal(L[1:].argmax(1), np.arange(N - 1))   # i written after i - 1


# ---------------------------------------------------------------- finite differences
def test_every_op_against_finite_differences(inputs):
    i = inputs
    ga, gw = i["gates"]
    raw = np.random.default_rng(4).standard_normal((B, dnc.interface_size(W, R)))
    checks = {
        "interface": (lambda x: dnc.interface(x, W, R), raw),
        "usage": (dnc.usage, i["usage"], i["write"], i["reads"], i["free"]),
        "allocation": (dnc.allocation, i["usage"]),
        "write_weighting": (dnc.write_weighting, i["memory"], i["key"], i["strength"],
                            i["usage"], ga, gw),
        "link": (dnc.link, i["link"], i["precedence"], i["write"]),
        "precedence": (dnc.precedence, i["precedence"], i["write"]),
        "read_weighting": (dnc.read_weighting, i["memory"], i["link"], i["reads"], i["keys"],
                           i["strengths"], i["modes"]),
    }
    for name, (fn, *args) in checks.items():
        assert check_gradients(fn, *args) < 1e-7, name


def test_access_against_finite_differences_over_steps():
    """Three steps from a state reached by earlier steps (usage, links and reads non-zero):
    gradients reach the interface of every step and the starting state."""
    r = np.random.default_rng(5)
    state = np.zeros((B, dnc.state_size(N, W, R)))
    for _ in range(3):
        state = dnc.access(state, r.standard_normal((B, dnc.interface_size(W, R))), N, W, R).data
    raws = r.standard_normal((3, B, dnc.interface_size(W, R)))

    def run(s, x):
        for t in range(3):
            s = dnc.access(s, x[t], N, W, R)
        return s
    assert check_gradients(run, state, raws) < 1e-6


def test_float32_stays_float32():
    state = np.zeros((B, dnc.state_size(N, W, R)), np.float32)
    raw = np.random.default_rng(6).standard_normal((B, dnc.interface_size(W, R)))
    out = dnc.access(state, raw.astype(np.float32), N, W, R)
    assert out.dtype == np.float32
    out64 = dnc.access(state.astype(float), raw, N, W, R)
    np.testing.assert_allclose(out.data, out64.data, atol=1e-5)


# ---------------------------------------------------------------- bad input
def test_bad_shapes_are_named():
    state = np.zeros((B, dnc.state_size(N, W, R)))
    raw = np.zeros((B, dnc.interface_size(W, R)))
    with pytest.raises(ValueError, match=r"access: state must have shape \(batch, "):
        dnc.access(state[:, 1:], raw, N, W, R)
    with pytest.raises(ValueError, match="access: interface_raw must have shape"):
        dnc.access(state, raw[:1], N, W, R)
    with pytest.raises(ValueError, match="access: eps must be > 0"):
        dnc.access(state, raw, N, W, R, eps=0)
    with pytest.raises(ValueError, match=r"interface: raw must have shape \(batch, 28\)"):
        dnc.interface(raw[:, :-1], W, R)
    with pytest.raises(ValueError, match="usage: read_weightings must have shape"):
        dnc.usage(np.zeros((B, N)), np.zeros((B, N)), np.zeros((B, R, N + 1)),
                  np.zeros((B, R)))
    with pytest.raises(ValueError, match="allocation: usage must be"):
        dnc.allocation(np.zeros(N))
    with pytest.raises(ValueError, match=r"link: previous must be \(batch, N, N\)"):
        dnc.link(np.zeros((B, N, N - 1)), np.zeros((B, N)), np.zeros((B, N)))
    with pytest.raises(ValueError, match="link: write_weighting must have shape"):
        dnc.link(np.zeros((B, N, N)), np.zeros((B, N)), np.zeros((B, N + 1)))
    with pytest.raises(ValueError, match=r"read_weighting: modes must have shape \(2, 2, 3\)"):
        dnc.read_weighting(np.zeros((B, N, W)), np.zeros((B, N, N)), np.zeros((B, R, N)),
                           np.zeros((B, R, W)), np.zeros((B, R)), np.zeros((B, R, 2)))
    with pytest.raises(ValueError, match="write_weighting: memory must be 3-D"):
        dnc.write_weighting(np.zeros((N, W)), 0, 0, 0, 0, 0)
