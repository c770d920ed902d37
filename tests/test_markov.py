"""Markov chains (MC): sampling kernels against exact row probabilities, analysis against
textbook formulas, CTMC against scipy's expm, and bad input."""
import numba
import xarray as xr
import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
import scipy.stats

from neurosim.kernels import markov as K
from neurosim.markov import ContinuousMarkovChain, MarkovChain, ngram_text


def random_chain(n, rng, zeros=0.0):
    P = rng.dirichlet(np.ones(n), size=n)
    if zeros:
        P[rng.random((n, n)) < zeros] = 0.0
        P[np.arange(n), rng.integers(0, n, n)] += 0.1  # no empty rows
        P /= P.sum(axis=1, keepdims=True)
    return P


def sparse_chain(n, k, rng):
    """CSR chain with exactly ``k`` distinct non-zeros per row."""
    cols = np.stack([rng.choice(n, k, replace=False) for _ in range(n)])
    vals = rng.dirichlet(np.ones(k), size=n)
    return sp.csr_array((vals.ravel(), (np.repeat(np.arange(n), k), cols.ravel())), shape=(n, n))


def alias_implied(prob, alias, cols):
    """Probabilities a (prob, alias) table implies, in slow plain Python: (1/m) per slot."""
    m = len(prob)
    out = {}
    for k in range(m):
        out[cols[k]] = out.get(cols[k], 0.0) + prob[k] / m
        out[alias[k]] = out.get(alias[k], 0.0) + (1.0 - prob[k]) / m
    return out


def transition_chi2(path, P):
    """p-values of chi-square tests of the observed moves out of each visited state against
    the row of P (moves out of a state are multinomial given the visits: Markov property)."""
    n = P.shape[0]
    counts = np.zeros((n, n))
    np.add.at(counts, (path[:-1], path[1:]), 1)
    pvals = []
    for i in range(n):
        m = counts[i].sum()
        support = P[i] > 0
        assert counts[i][~support].sum() == 0, "moved along a zero-probability transition"
        if m < 50 or support.sum() < 2:
            continue
        pvals.append(scipy.stats.chisquare(counts[i][support], m * P[i][support]).pvalue)
    return np.array(pvals)


# ----------------------------------------------------------------------------- kernels

@pytest.mark.kernel
def test_dense_alias_tables_reproduce_rows_exactly():
    rng = np.random.default_rng(1)
    P = random_chain(30, rng, zeros=0.5)
    prob = np.empty_like(P)
    alias = np.empty(P.shape, dtype=np.int32)
    K.dense_tables(P, prob, alias)
    table = np.empty(P.shape, dtype=np.uint64)
    K.pack_dense(prob, alias, table)
    thr = (table >> np.uint64(32)).astype(np.float64) / 2.0 ** 32
    np.testing.assert_array_equal(table & np.uint64(0xFFFFFFFF), alias)
    for i in range(P.shape[0]):
        implied = alias_implied(prob[i], alias[i], np.arange(P.shape[1]))
        got = np.array([implied.get(j, 0.0) for j in range(P.shape[1])])
        np.testing.assert_allclose(got, P[i], atol=1e-14)
        assert np.all(got[P[i] == 0] == 0)  # never lands on an impossible state
        packed = alias_implied(thr[i], alias[i], np.arange(P.shape[1]))  # 32-bit thresholds
        got = np.array([packed.get(j, 0.0) for j in range(P.shape[1])])
        np.testing.assert_allclose(got, P[i], atol=1e-9)
        assert np.all(got[P[i] == 0] == 0)


@pytest.mark.kernel
def test_csr_tables_reproduce_rows_exactly():
    rng = np.random.default_rng(2)
    n = 50
    lens = rng.integers(1, 40, n)  # both sides of SCAN_MAX
    rows = [rng.choice(n, L, replace=False) for L in lens]
    vals = [rng.dirichlet(np.ones(L)) for L in lens]
    A = sp.csr_array((np.concatenate(vals), (np.repeat(np.arange(n), lens), np.concatenate(rows))), shape=(n, n))
    A.sort_indices()
    indptr, indices = A.indptr.astype(np.int64), A.indices.astype(np.int64)
    cdf, prob, alias = np.empty(A.nnz), np.empty(A.nnz), np.empty(A.nnz, np.int64)
    K.csr_tables(indptr, indices, A.data, cdf, prob, alias)
    dense = A.toarray()
    for i in range(n):
        a, b = indptr[i], indptr[i + 1]
        implied = alias_implied(prob[a:b], alias[a:b], indices[a:b])
        got = np.array([implied.get(j, 0.0) for j in range(n)])
        np.testing.assert_allclose(got, dense[i], atol=1e-14)
        np.testing.assert_allclose(np.diff(np.r_[0.0, cdf[a:b]]), A.data[a:b], atol=1e-12)


@numba.njit(cache=True)
def _draws(states, n):
    out = np.empty(n, np.uint64)
    for t in range(n):
        out[t] = K.next_u64(states, 0)
    return out


def packed_path_reference(table, x0, draws):
    """The path a packed alias table gives for raw 64-bit draws, in slow plain Python: the high
    32 bits pick the slot (multiply-shift), the low 32 bits are the coin against the threshold."""
    m = table.shape[1]
    s = int(x0)
    path = []
    for r in draws:
        r = int(r)
        k = ((r >> 32) * m) >> 32
        e = int(table[s, k])
        s = k if (r & 0xFFFFFFFF) < (e >> 32) else e & 0xFFFFFFFF
        path.append(s)
    return np.array(path, dtype=np.int64)


def _packed_table(P):
    prob = np.empty_like(P)
    alias = np.empty(P.shape, dtype=np.int32)
    K.dense_tables(P, prob, alias)
    table = np.empty(P.shape, dtype=np.uint64)
    K.pack_dense(prob, alias, table)
    return table


@pytest.mark.kernel
@pytest.mark.parametrize("n_steps", [0, 1, 2, 3, K._AHEAD2, K._AHEAD2 + 2, K._AHEAD1, K._AHEAD1 + 1,
                                     K._AHEAD1 + 2, K._RING + 5, 3000])
@pytest.mark.parametrize("every", [1, 3])
def test_single_chain_prefetching_kernel_matches_reference_and_run_dense(n_steps, every):
    rng = np.random.default_rng(20)
    P = random_chain(40, rng, zeros=0.3)
    table = _packed_table(P)
    seq = np.random.SeedSequence(5)
    from neurosim import rng as nrng
    st_one, st_many, st_ref = (nrng.streams(seq, 1) for _ in range(3))
    full = packed_path_reference(table, 7, _draws(st_ref, n_steps))
    ref = full[every - 1::every]
    x_one = np.array([7], dtype=np.int64)
    out_one = np.full(n_steps // every, -1, dtype=np.int64)
    K.run_dense_one(table, x_one, np.int64(n_steps), np.int64(every), st_one, out_one)
    x_many = np.array([7], dtype=np.int64)
    out_many = np.full((1, n_steps // every), -1, dtype=np.int64)
    K.run_dense(table, x_many, np.int64(n_steps), np.int64(every), st_many, out_many)
    np.testing.assert_array_equal(out_one, ref)
    np.testing.assert_array_equal(out_one, out_many[0])
    assert x_one[0] == x_many[0] == (full[-1] if n_steps else 7)
    np.testing.assert_array_equal(st_one, st_ref)  # the stream ends where the steps end: no draw ahead
    np.testing.assert_array_equal(st_one, st_many)


@pytest.mark.kernel
def test_single_chain_path_chi_square_large_dense_chain():
    """Single-chain (prefetching) kernel: moves out of each of 60 states against its row."""
    rng = np.random.default_rng(21)
    P = random_chain(60, rng, zeros=0.5)
    path = MarkovChain(P, seed=22).simulate(400_000, start=0).path[0].values
    pvals = transition_chi2(path, P)
    assert len(pvals) >= 50
    stat = -2 * np.log(pvals).sum()
    assert scipy.stats.chi2.sf(stat, 2 * len(pvals)) > 1e-3


def test_single_chain_every_and_chunks_do_not_change_the_path():
    rng = np.random.default_rng(23)
    mc = MarkovChain(random_chain(30, rng), seed=4)
    full = mc.simulate(2000, start=2)
    strided = mc.simulate(2000, start=2, every=3, chunk=61)
    np.testing.assert_array_equal(strided.path.values, full.path.values[:, ::3])
    chunked = mc.simulate(2000, start=2, chunk=7)
    np.testing.assert_array_equal(chunked.path.values, full.path.values)
    # one chain alone is chain 0 of a group (same stream, same path)
    np.testing.assert_array_equal(full.path.values[0], mc.simulate(2000, start=2, n_chains=3).path.values[0])


@pytest.mark.kernel
@pytest.mark.parametrize("kind", ["dense", "sparse_scan", "sparse_alias"])
def test_simulated_moves_match_rows_chi_square(kind):
    rng = np.random.default_rng(3)
    n = 12
    if kind == "dense":
        P = random_chain(n, rng, zeros=0.3)
        mc = MarkovChain(P, seed=4)
    else:
        k = 5 if kind == "sparse_scan" else K.SCAN_MAX + 4
        n = 8 if kind == "sparse_scan" else K.SCAN_MAX + 8
        A = sparse_chain(n, k, rng)
        P = A.toarray()
        mc = MarkovChain(A, seed=4)
        assert mc.is_sparse
    path = mc.simulate(60_000, start=0).path[0].values
    pvals = transition_chi2(path, P)
    assert len(pvals) >= n // 2
    # combined over rows (Fisher): a wrong sampler fails this at every seed
    stat = -2 * np.log(pvals).sum()
    assert scipy.stats.chi2.sf(stat, 2 * len(pvals)) > 1e-3


def test_many_chains_end_distribution_matches_p0_Pt():
    rng = np.random.default_rng(5)
    P = random_chain(6, rng, zeros=0.4)
    mc = MarkovChain(P, seed=6)
    t = 7
    ds = mc.simulate(t, start=2, n_chains=20_000)
    counts = np.bincount(ds.path[:, -1].values, minlength=6)
    expect = np.linalg.matrix_power(P, t)[2] * 20_000
    keep = expect > 0
    assert counts[~keep].sum() == 0
    assert scipy.stats.chisquare(counts[keep], expect[keep]).pvalue > 1e-3


def test_initial_distribution_draw_chi_square():
    P = np.full((5, 5), 0.2)
    p0 = np.array([0.1, 0.4, 0.0, 0.3, 0.2])
    ds = MarkovChain(P, seed=0).simulate(0, n_chains=20_000, initial=p0)
    counts = np.bincount(ds.path[:, 0].values, minlength=5)
    assert counts[2] == 0
    keep = p0 > 0
    assert scipy.stats.chisquare(counts[keep], 20_000 * p0[keep]).pvalue > 1e-3


def test_seed_reproducible_and_thread_count_independent():
    rng = np.random.default_rng(7)
    mc = MarkovChain(random_chain(20, rng), seed=11)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = mc.simulate(500, start=0, n_chains=8).path.values
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        b = mc.simulate(500, start=0, n_chains=8).path.values
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(a, b)
    c = mc.simulate(500, start=0, n_chains=8, seed=12).path.values
    assert not np.array_equal(a, c)
    # chain k is the same whether run with others or not: one stream per chain
    np.testing.assert_array_equal(a[0], mc.simulate(500, start=0, n_chains=1).path.values[0])


def test_every_and_chunks_do_not_change_the_path():
    rng = np.random.default_rng(8)
    mc = MarkovChain(random_chain(15, rng), seed=3)
    full = mc.simulate(1000, start=1, n_chains=3)
    strided = mc.simulate(1000, start=1, n_chains=3, every=7, chunk=50)
    np.testing.assert_array_equal(strided.step.values, np.arange(0, 1001, 7))
    np.testing.assert_array_equal(strided.path.values, full.path.values[:, ::7])
    assert full.attrs["family"] == "MC" and full.sizes == {"chain": 3, "step": 1001}


def test_long_chain_frequencies_near_stationary():
    rng = np.random.default_rng(9)
    P = random_chain(8, rng)
    mc = MarkovChain(P, seed=1)
    freq = np.bincount(mc.simulate(200_000, start=0).path[0].values, minlength=8) / 200_001
    np.testing.assert_allclose(freq, mc.stationary(), atol=0.01)


# ----------------------------------------------------------------------------- analysis

def test_stationary_against_eigenvector_dense_and_sparse():
    rng = np.random.default_rng(10)
    P = random_chain(40, rng, zeros=0.7)
    w, v = np.linalg.eig(P.T)
    pi = np.real(v[:, np.argmin(np.abs(w - 1))])
    pi /= pi.sum()
    dense = MarkovChain(P)
    np.testing.assert_allclose(dense.stationary(), pi, atol=1e-12)
    sparse = MarkovChain(sp.csr_array(P))
    np.testing.assert_allclose(sparse.stationary(method="power", tol=1e-15), pi, atol=1e-10)
    np.testing.assert_allclose(sparse.stationary(method="solve"), pi, atol=1e-12)


def test_birth_death_detailed_balance():
    # birth prob b, death prob d, reflecting ends: pi_k proportional to (b/d)^k
    n, b, d = 30, 0.3, 0.5
    P = np.zeros((n, n))
    for k in range(n):
        if k + 1 < n:
            P[k, k + 1] = b
        if k > 0:
            P[k, k - 1] = d
        P[k, k] = 1 - P[k].sum()
    pi = (b / d) ** np.arange(n)
    pi /= pi.sum()
    for method in ("solve", "power"):
        np.testing.assert_allclose(MarkovChain(sp.csr_array(P)).stationary(method, tol=1e-16), pi, rtol=1e-8, atol=1e-14)


def test_reducible_chain_classes_and_stationary_distributions():
    # 0 -> {1, 2} transient; {1, 2} closed, period 2; {3} absorbing; {4, 5} closed aperiodic
    P = np.array([[0.2, 0.3, 0.0, 0.3, 0.2, 0.0],
                  [0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
                  [0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
                  [0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
                  [0.0, 0.0, 0.0, 0.0, 0.5, 0.5],
                  [0.0, 0.0, 0.0, 0.0, 1.0, 0.0]])
    mc = MarkovChain(P)
    assert [c.tolist() for c in mc.communication_classes] == [[0], [1, 2], [3], [4, 5]]
    assert [c.tolist() for c in mc.recurrent_classes] == [[1, 2], [3], [4, 5]]
    assert mc.transient_states.tolist() == [0]
    assert mc.absorbing_states.tolist() == [3]
    assert mc.periods.tolist() == [1, 2, 1, 1]
    assert mc.period == 2 and not mc.is_aperiodic and not mc.is_irreducible
    S = mc.stationary_distributions()
    np.testing.assert_allclose(S, [[0, .5, .5, 0, 0, 0], [0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 2 / 3, 1 / 3]], atol=1e-12)
    with pytest.raises(ValueError, match="recurrent classes"):
        mc.stationary()
    ds = mc.classify()
    assert ds.recurrent.values.tolist() == [0, 1, 1, 1, 1, 1]


@pytest.mark.parametrize("n,period", [(3, 3), (4, 4), (6, 6)])
def test_cycle_period(n, period):
    P = np.roll(np.eye(n), 1, axis=1)
    mc = MarkovChain(P)
    assert mc.is_irreducible and mc.period == period


def test_random_walk_on_even_cycle_period_2_and_lazy_period_1():
    n = 8
    P = 0.5 * (np.roll(np.eye(n), 1, axis=1) + np.roll(np.eye(n), -1, axis=1))
    assert MarkovChain(P).period == 2
    assert MarkovChain(0.5 * (P + np.eye(n))).period == 1
    odd = 0.5 * (np.roll(np.eye(7), 1, axis=1) + np.roll(np.eye(7), -1, axis=1))
    assert MarkovChain(odd).period == 1


@pytest.mark.parametrize("p", [0.5, 0.4])
def test_gamblers_ruin_absorption_and_duration(p):
    N = 10
    q = 1 - p
    P = np.zeros((N + 1, N + 1))
    P[0, 0] = P[N, N] = 1
    for k in range(1, N):
        P[k, k + 1], P[k, k - 1] = p, q
    mc = MarkovChain(P)
    ds = mc.absorption()
    k = np.arange(1, N)
    np.testing.assert_array_equal(ds.transient.values, k)
    if p == 0.5:
        win = k / N
        steps = k * (N - k)
    else:
        r = q / p
        win = (1 - r ** k) / (1 - r ** N)
        steps = k / (q - p) - N / (q - p) * win
    np.testing.assert_allclose(ds.absorption_probability.values[:, 1], win, rtol=1e-10)
    np.testing.assert_allclose(ds.absorption_probability.values.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_allclose(ds.expected_steps.values, steps, rtol=1e-10)
    np.testing.assert_allclose(mc.hitting_probabilities(N)[1:N], win, rtol=1e-10)
    # expected time to hit {0, N} is the expected duration
    np.testing.assert_allclose(mc.hitting_times([0, N])[1:N], steps, rtol=1e-10)
    # hitting N alone is not sure from inside: infinite mean time
    assert np.all(np.isinf(mc.hitting_times(N)[:N]))


def test_kac_mean_return_time_from_hitting_times():
    rng = np.random.default_rng(12)
    P = random_chain(10, rng, zeros=0.5)
    mc = MarkovChain(P)
    pi = mc.stationary()
    for i in (0, 3, 7):
        h = mc.hitting_times(i)
        ret = 1 + P[i] @ h  # first-step analysis of the return time
        assert ret == pytest.approx(1 / pi[i], rel=1e-10)
    np.testing.assert_allclose(mc.mean_return_times(), 1 / pi)


def test_two_state_tv_distance_and_mixing_time_exact():
    p, q = 0.3, 0.1
    mc = MarkovChain([[1 - p, p], [q, 1 - q]])
    lam = 1 - p - q
    t = np.arange(31)
    ds = mc.tv_distance(30)
    np.testing.assert_allclose(ds.tv.values[0], p / (p + q) * np.abs(lam) ** t, rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(ds.tv.values[1], q / (p + q) * np.abs(lam) ** t, rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(ds.worst.values, max(p, q) / (p + q) * lam ** t, rtol=1e-8, atol=1e-15)
    for eps in (0.25, 0.01):
        expect = int(np.ceil(np.log(eps * (p + q) / max(p, q)) / np.log(lam)))
        assert mc.mixing_time(eps) == expect
    with pytest.raises(ValueError, match="aperiodic"):
        MarkovChain([[0, 1], [1, 0]]).mixing_time()


def test_distribution_is_matrix_power():
    rng = np.random.default_rng(13)
    P = random_chain(5, rng)
    ds = MarkovChain(sp.csr_array(P)).distribution(6, initial=3)
    for t in range(7):
        np.testing.assert_allclose(ds.probability.values[t], np.linalg.matrix_power(P, t)[3], atol=1e-14)


# ----------------------------------------------------------------------------- fitting

def test_fit_counts_by_hand_and_smoothing():
    mc = MarkovChain.fit([0, 1, 1, 2, 0, 1], n_states=4)
    np.testing.assert_array_equal(mc.counts, [[0, 2, 0, 0], [0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(mc.P[1], [0, .5, .5, 0])
    np.testing.assert_allclose(mc.P[3], [.25] * 4)  # never left: uniform
    sm = MarkovChain.fit([[0, 1], [1, 0, 0]], smoothing=1.0)  # two sequences: no 1 -> 1 across
    np.testing.assert_allclose(sm.counts, [[1, 1], [1, 0]])  # observed counts
    np.testing.assert_allclose(sm.P, [[.5, .5], [2 / 3, 1 / 3]])  # (counts + 1) normalised


def test_fit_recovers_simulated_chain_and_labels():
    rng = np.random.default_rng(14)
    P = random_chain(4, rng)
    path = MarkovChain(P, seed=2).simulate(100_000, start=0).path[0].values
    np.testing.assert_allclose(MarkovChain.fit(path).P, P, atol=0.02)
    words = MarkovChain.fit(["rain", "sun", "sun", "rain", "fog"])
    assert words.labels.tolist() == ["fog", "rain", "sun"]
    np.testing.assert_allclose(words.P[2], [0, .5, .5])
    assert words.hitting_times("fog")[1] == pytest.approx(words.hitting_times(["fog"])[1])


def test_ngrams_round_trip():
    text = "abcabcabd"
    mc = MarkovChain.from_ngrams(text, order=2, seed=0)
    assert set(mc.labels) == {"ab", "bc", "ca", "bd", "da"}  # read as a loop: "...abd" + "ab"

    i_ab = int(np.flatnonzero(mc.labels == "ab")[0])
    row = dict(zip(mc.labels, mc.P[i_ab]))
    assert row["bc"] == pytest.approx(2 / 3) and row["bd"] == pytest.approx(1 / 3)
    ds = mc.simulate(20, start="ca")
    out = ngram_text(mc, ds.path[0].values)
    assert out.startswith("ca") and len(out) == 22
    assert all(out[i:i + 2] in mc.labels for i in range(len(out) - 1))


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(15)
    mc = MarkovChain(sparse_chain(20, 3, rng), labels=[f"s{i}" for i in range(20)], seed=5)
    mc.save(tmp_path / "mc.nc")
    back = MarkovChain.load(tmp_path / "mc.nc")
    assert back.is_sparse and back.labels.tolist() == mc.labels.tolist()
    np.testing.assert_allclose(back.to_dense(), mc.to_dense())
    np.testing.assert_array_equal(back.simulate(50, start="s3").path.values, mc.simulate(50, start="s3").path.values)


# ----------------------------------------------------------------------------- CTMC

def random_rates(n, rng):
    Q = rng.exponential(1.0, (n, n)) * (rng.random((n, n)) < 0.6)
    np.fill_diagonal(Q, 0)
    Q[np.arange(n), (np.arange(n) + 1) % n] += 0.5  # irreducible ring
    np.fill_diagonal(Q, -Q.sum(axis=1))
    return Q


def test_ctmc_transient_matches_expm_and_stationary():
    rng = np.random.default_rng(16)
    Q = random_rates(7, rng)
    c = ContinuousMarkovChain(Q)
    times = [0.0, 0.1, 1.0, 3.7, 40.0]
    p0 = rng.dirichlet(np.ones(7))
    ds = c.transient(times, p0)
    for k, t in enumerate(times):
        np.testing.assert_allclose(ds.probability.values[k], p0 @ scipy.linalg.expm(Q * t), atol=1e-10)
    pi = c.stationary()
    np.testing.assert_allclose(pi @ Q, 0, atol=1e-12)
    assert pi.sum() == pytest.approx(1)
    jc = c.jump_chain()
    np.testing.assert_allclose(jc.P.sum(axis=1), 1)
    assert np.all(np.diag(jc.P) == 0)


def test_gillespie_state_distribution_chi_square_and_occupancy():
    rng = np.random.default_rng(17)
    Q = random_rates(5, rng)
    c = ContinuousMarkovChain(Q, seed=3)
    ds = c.simulate(2.0, start=0, n_chains=20_000, dt=0.5)
    assert np.all(ds.path.values[:, 0] == 0)
    for k, t in enumerate(ds.time.values[1:], start=1):
        expect = scipy.linalg.expm(Q * t)[0] * 20_000
        counts = np.bincount(ds.path[:, k].values, minlength=5)
        keep = expect > 1e-9
        assert scipy.stats.chisquare(counts[keep], expect[keep] * counts.sum() / expect.sum()).pvalue > 1e-3
    np.testing.assert_allclose(ds.occupancy.values.sum(axis=1), 2.0)
    long = c.simulate(5000.0, start=0, n_chains=2)
    np.testing.assert_allclose(long.occupancy.values / 5000.0, np.tile(c.stationary(), (2, 1)), atol=0.02)


def test_ctmc_absorbing_state_holds():
    Q = np.array([[-1.0, 1.0], [0.0, 0.0]])
    ds = ContinuousMarkovChain(Q, seed=0).simulate(50.0, start=0, n_chains=100)
    assert np.all(ds.jumps.values == 1) and np.all(ds.path.values[:, -1] == 1)
    # time in state 0 is Exp(1): mean 1
    assert ds.occupancy.values[:, 0].mean() == pytest.approx(1.0, abs=0.35)


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("P,match", [
    ([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]], "square"),
    ([[0.5, 0.6], [0.5, 0.5]], "row 0 sums to 1.1"),
    ([[1.2, -0.2], [0.5, 0.5]], "non-negative"),
    ([[np.nan, 1.0], [0.5, 0.5]], "finite"),
    ([[0.5, 0.5], [0.4, 0.5]], "row 1"),
])
def test_bad_transition_matrices(P, match):
    with pytest.raises(ValueError, match=match):
        MarkovChain(P)


def test_bad_sparse_and_arguments():
    with pytest.raises(ValueError, match="row 1"):
        MarkovChain(sp.csr_array(np.array([[1.0, 0.0], [0.3, 0.3]])))
    with pytest.raises(TypeError):
        MarkovChain([["a", "b"], ["c", "d"]])
    mc = MarkovChain([[0.5, 0.5], [0.5, 0.5]], labels=["x", "y"])
    with pytest.raises(ValueError, match=r"start must be .*\[0, 2\)"):
        mc.simulate(10, start=2)
    with pytest.raises(ValueError, match="start"):
        mc.simulate(10, start="z")
    with pytest.raises(ValueError, match="n_steps"):
        mc.simulate(-1)
    with pytest.raises(ValueError, match="n_chains"):
        mc.simulate(5, n_chains=0)
    with pytest.raises(ValueError, match="initial"):
        mc.simulate(5, initial=[0.3, 0.3])
    with pytest.raises(ValueError, match="labels"):
        MarkovChain([[1.0]], labels=["a", "b"])
    with pytest.raises(ValueError, match="method"):
        mc.stationary(method="magic")
    with pytest.raises(ValueError, match="no transient"):
        mc.absorption()


def test_bad_rate_matrices():
    with pytest.raises(ValueError, match=r"Q\[0, 1\]"):
        ContinuousMarkovChain([[1.0, -1.0], [1.0, -1.0]])
    with pytest.raises(ValueError, match="row 1"):
        ContinuousMarkovChain([[-1.0, 1.0], [2.0, -1.0]])
    with pytest.raises(ValueError, match="finite"):
        ContinuousMarkovChain([[-1.0, np.inf], [1.0, -1.0]])
    c = ContinuousMarkovChain([[0.0, 2.0], [3.0, 0.0]], fill_diagonal=True)
    np.testing.assert_allclose(c.exit_rates, [2.0, 3.0])
    with pytest.raises(ValueError, match="times"):
        c.transient([-1.0], 0)
    with pytest.raises(ValueError, match="duration"):
        c.simulate(0.0)
    with pytest.raises(ValueError, match="start"):
        c.simulate(1.0, start=5)


def test_bundled_text_and_ngram_chain():
    from neurosim.datasets import us_text
    g = us_text("gettysburg")
    assert g.startswith("Four score and seven years ago") and g.endswith("shall not perish from the earth.")
    d = us_text("declaration")
    assert "We hold these truths to be self-evident" in d and len(d) > 7000
    with pytest.raises(ValueError, match="name"):
        us_text("magna carta")
    mc = MarkovChain.from_ngrams(g, order=4, seed=1)
    out = ngram_text(mc, mc.simulate(300, start=0).path[0].values)
    loop = g + g[:4]
    assert all(out[i:i + 5] in loop for i in range(len(out) - 4))  # every 5-gram was seen
    words = MarkovChain.from_ngrams(g.split(), order=1)
    assert "nation" in set(words.labels)



def test_unseeded_results_save_to_netcdf(tmp_path):
    from neurosim import record
    ds = MarkovChain([[0.5, 0.5], [0.5, 0.5]]).simulate(5)
    record.save(ds, tmp_path / "run.nc")
    assert record.load(tmp_path / "run.nc").path.shape == (1, 6)


# ----------------------------------------------------------------------------- the run contract

from interrupt import interrupted_run  # noqa: E402

from neurosim import config, graph, record, rng  # noqa: E402


def _small_dense(seed=3):
    return MarkovChain(random_chain(12, np.random.default_rng(30), zeros=0.3), labels=[f"s{i}" for i in range(12)],
                       seed=seed)


@pytest.mark.parametrize("kind, n_chains, every", [("dense", 1, 1), ("dense", 5, 3), ("csr", 4, 2)])
def test_simulate_store_is_identical_to_memory(tmp_path, kind, n_chains, every):
    P = random_chain(12, np.random.default_rng(31), zeros=0.3)
    mc = MarkovChain(P if kind == "dense" else sp.csr_array(P), seed=8)
    mem = mc.simulate(500, start=1, n_chains=n_chains, every=every, chunk=60)
    with mc.simulate(500, start=1, n_chains=n_chains, every=every, chunk=60, store=tmp_path / "p.nc") as ds:
        xr.testing.assert_identical(ds.load(), mem)
    assert mem.sizes["step"] == 500 // every + 1 and mem.attrs["n_steps"] == 500
    np.testing.assert_array_equal(mem.step.values, np.arange(0, 501, every))
    whole = mc.simulate(500, start=1, n_chains=n_chains, every=every)  # one chunk
    np.testing.assert_array_equal(mem.path.values, whole.path.values)


def test_labelled_chain_store_is_identical_to_memory(tmp_path):
    mc = _small_dense()
    mem = mc.simulate(200, start="s2", n_chains=2, chunk=30)
    with mc.simulate(200, start="s2", n_chains=2, chunk=30, store=tmp_path / "p.nc") as ds:
        xr.testing.assert_identical(ds.load(), mem)


def test_default_chunks_follow_config_and_do_not_change_the_path(monkeypatch):
    mc = _small_dense()
    whole = mc.simulate(300, start=0, n_chains=3)
    monkeypatch.setattr(config, "CHUNK_WORK", 3 * 16)  # 16 steps a chunk for 3 chains
    xr.testing.assert_identical(mc.simulate(300, start=0, n_chains=3), whole)


def test_prefetch_switch_point_does_not_change_the_path(monkeypatch):
    mc = _small_dense()
    fast = mc.simulate(3000, start=4, every=2)
    monkeypatch.setattr(config, "MARKOV_PREFETCH_MIN_STATES", 10 ** 9)  # the grouped kernel
    xr.testing.assert_identical(mc.simulate(3000, start=4, every=2), fast)


def test_dense_solve_switch_point(monkeypatch):
    import neurosim.markov as markov
    assert markov.DENSE_SOLVE_MAX == config.MARKOV_DENSE_SOLVE_MAX == 3000
    N = 8
    P = np.zeros((N + 1, N + 1))
    P[0, 0] = P[N, N] = 1
    for k in range(1, N):
        P[k, k + 1], P[k, k - 1] = 0.4, 0.6
    dense = MarkovChain(P).absorption()
    monkeypatch.setattr(config, "MARKOV_DENSE_SOLVE_MAX", 2)  # sparse LU from 3 states on
    sparse = MarkovChain(P).absorption()
    assert "fundamental" in dense and "fundamental" not in sparse
    np.testing.assert_allclose(sparse.absorption_probability, dense.absorption_probability, rtol=1e-12)
    np.testing.assert_allclose(sparse.expected_steps, dense.expected_steps, rtol=1e-12)
    np.testing.assert_allclose(MarkovChain(P).hitting_times([0, N])[1:N], dense.expected_steps, rtol=1e-10)


def test_simulate_ctrl_c_during_set_up(tmp_path):
    ds = interrupted_run("""
        import numpy as np
        from neurosim.markov import MarkovChain
        ds = MarkovChain(np.full((4, 4), 0.25), seed=1).simulate(1000, start=2, n_chains=2, chunk=100)
        """, "setup", tmp_path)
    assert ds.attrs["interrupted"] == 1 and ds.attrs["n_steps"] == 0
    assert ds.path.values.tolist() == [[2], [2]] and ds.step.values.tolist() == [0]


@pytest.mark.parametrize("sparse", [False, True])
def test_simulate_ctrl_c_mid_run_keeps_the_first_chunk(tmp_path, sparse):
    ds = interrupted_run(f"""
        import numpy as np, scipy.sparse as sp
        from neurosim.markov import MarkovChain
        P = np.full((4, 4), 0.25)
        ds = MarkovChain(sp.csr_array(P) if {sparse} else P, seed=1).simulate(1000, start=2, n_chains=2,
                                                                         every=5, chunk=100)
        """, "run", tmp_path)
    assert ds.attrs["interrupted"] == 1 and ds.attrs["n_steps"] == 100
    np.testing.assert_array_equal(ds.step.values, np.arange(0, 101, 5))
    P = np.full((4, 4), 0.25)
    full = MarkovChain(sp.csr_array(P) if sparse else P, seed=1).simulate(1000, start=2, n_chains=2, every=5)
    np.testing.assert_array_equal(ds.path.values, full.path.values[:, :21])


def test_ctmc_chunks_and_store_do_not_change_the_run(tmp_path):
    Q = random_rates(5, np.random.default_rng(32))
    c = ContinuousMarkovChain(Q, seed=4)
    whole = c.simulate(30.0, start=1, n_chains=6, dt=0.1)
    for chunk in (1, 7, 64):
        xr.testing.assert_identical(c.simulate(30.0, start=1, n_chains=6, dt=0.1, chunk=chunk), whole)
    with c.simulate(30.0, start=1, n_chains=6, dt=0.1, chunk=50, store=tmp_path / "c.nc") as ds:
        xr.testing.assert_identical(ds.load(), whole)
    assert whole.sizes["time"] == 301 and whole.time.attrs["units"] == "s"
    np.testing.assert_allclose(whole.occupancy.sum("state"), 30.0)


def test_ctmc_ctrl_c_during_set_up_and_mid_run(tmp_path):
    body = """
        import numpy as np
        from neurosim.markov import ContinuousMarkovChain
        Q = np.array([[-1.0, 0.6, 0.4], [0.5, -1.0, 0.5], [0.2, 0.8, -1.0]])
        ds = ContinuousMarkovChain(Q, seed=2).simulate(10.0, start=0, n_chains=3, dt=0.1, chunk=20)
        """
    setup = interrupted_run(body, "setup", tmp_path)
    assert setup.attrs["interrupted"] == 1 and setup.sizes["time"] == 0 and setup.attrs["duration"] == 0
    assert setup.occupancy.values.sum() == 0 and setup.jumps.values.sum() == 0
    mid = interrupted_run(body, "run", tmp_path)
    assert mid.attrs["interrupted"] == 1 and mid.sizes["time"] == 20
    assert mid.attrs["duration"] == pytest.approx(1.9)
    np.testing.assert_allclose(mid.occupancy.sum("state"), 1.9)  # time up to the last grid point
    Q = np.array([[-1.0, 0.6, 0.4], [0.5, -1.0, 0.5], [0.2, 0.8, -1.0]])
    full = ContinuousMarkovChain(Q, seed=2).simulate(10.0, start=0, n_chains=3, dt=0.1)
    np.testing.assert_array_equal(mid.path.values, full.path.values[:, :20])
    assert np.all(mid.jumps.values <= full.jumps.values)


@pytest.mark.parametrize("seed", [2 ** 70, np.random.SeedSequence(9, spawn_key=(2, 5)), 123])
def test_seeds_survive_save_load_and_attrs(tmp_path, seed):
    mc = _small_dense(seed)
    ds = mc.simulate(100, n_chains=3)
    again = mc.simulate(100, n_chains=3, seed=rng.from_attr(ds.attrs["seed"]))
    np.testing.assert_array_equal(again.path.values, ds.path.values)
    record.save(ds, tmp_path / "run.nc")
    mc.save(tmp_path / "mc.nc")
    back = MarkovChain.load(tmp_path / "mc.nc")
    np.testing.assert_array_equal(back.simulate(100, n_chains=3).path.values, ds.path.values)
    c = ContinuousMarkovChain(random_rates(3, np.random.default_rng(0)), seed=seed)
    c.save(tmp_path / "c.nc")
    xr.testing.assert_identical(ContinuousMarkovChain.load(tmp_path / "c.nc").simulate(2.0, n_chains=2),
                                c.simulate(2.0, n_chains=2))


def test_unseeded_chain_records_a_seed_that_repeats_the_run():
    mc = MarkovChain(np.full((3, 3), 1 / 3))
    ds = mc.simulate(50, n_chains=2)
    assert isinstance(ds.attrs["seed"], int) and ds.attrs["seed"] == mc.seed
    again = MarkovChain(np.full((3, 3), 1 / 3), seed=ds.attrs["seed"]).simulate(50, n_chains=2)
    np.testing.assert_array_equal(again.path.values, ds.path.values)


def _foreign(path):
    xr.Dataset({"x": ("a", np.arange(3.0))}).to_netcdf(path)


def _truncated(path, model_file):
    data = model_file.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("cls", [MarkovChain, ContinuousMarkovChain])
def test_load_refuses_foreign_truncated_and_other_model_files(tmp_path, cls):
    name = cls.__name__
    good = tmp_path / "good.nc"
    (MarkovChain(np.full((3, 3), 1 / 3), seed=0) if cls is MarkovChain
     else ContinuousMarkovChain(random_rates(3, np.random.default_rng(0)), seed=0)).save(good)
    _foreign(tmp_path / "foreign.nc")
    with pytest.raises(ValueError, match=r"foreign\.nc holds no neurosim model"):
        cls.load(tmp_path / "foreign.nc")
    _truncated(tmp_path / "cut.nc", good)
    with pytest.raises(ValueError, match=r"cut\.nc is not a readable netCDF file"):
        cls.load(tmp_path / "cut.nc")
    other = MarkovChain if cls is ContinuousMarkovChain else ContinuousMarkovChain
    (MarkovChain(np.full((2, 2), 0.5), seed=0) if other is MarkovChain
     else ContinuousMarkovChain([[-1.0, 1.0], [1.0, -1.0]], seed=0)).save(tmp_path / "other.nc")
    with pytest.raises(ValueError, match=rf"other\.nc holds a {other.__name__}; {name}\.load"):
        cls.load(tmp_path / "other.nc")
    from neurosim.som import SOM
    SOM(2, 2, 2, seed=0).initialise(np.random.default_rng(0).random((5, 2))).save(tmp_path / "som.nc")
    with pytest.raises(ValueError, match=rf"som\.nc holds a SOM; {name}\.load"):
        cls.load(tmp_path / "som.nc")
    with pytest.raises(ValueError, match=r"missing\.nc: no such file"):
        cls.load(tmp_path / "missing.nc")


def test_graph_helper_components_periods_and_reach():
    # 0 -> 1 -> 2 -> 0 (period 3), 2 -> 3, 3 <-> 4 (period 2, closed), 5 alone without a loop
    A = sp.csr_array((np.ones(7), ([0, 1, 2, 2, 3, 4, 5], [1, 2, 0, 3, 4, 3, 4])), shape=(6, 6))
    comp = graph.strong_components(A)
    assert comp.tolist() == [0, 0, 0, 1, 1, 2]
    assert graph.closed_components(A, comp).tolist() == [False, True, False]
    assert [m.tolist() for m in graph.members(comp)] == [[0, 1, 2], [3, 4], [5]]
    assert graph.periods(A, comp).tolist() == [3, 2, 0]
    target = np.zeros(6, dtype=bool)
    target[0] = True
    assert graph.reaching(A, target).tolist() == [True, True, True, False, False, False]
    with pytest.raises(ValueError, match="square scipy.sparse"):
        graph.strong_components(np.eye(3))


@pytest.mark.parametrize("seed, error", [("5", TypeError), (-1, ValueError), (1.5, TypeError),
                                         (np.random.SeedSequence([1, 2]), ValueError)])
def test_bad_or_unrecordable_seeds_are_refused_up_front(seed, error):
    with pytest.raises(error, match="seed"):
        MarkovChain(np.eye(2), seed=seed)
    with pytest.raises(error, match="seed"):
        MarkovChain(np.eye(2), seed=0).simulate(3, seed=seed)
    with pytest.raises(error, match="seed"):
        ContinuousMarkovChain([[-1.0, 1.0], [1.0, -1.0]], seed=seed)
    with pytest.raises(error, match="seed"):
        ContinuousMarkovChain([[-1.0, 1.0], [1.0, -1.0]], seed=0).simulate(1.0, seed=seed)
