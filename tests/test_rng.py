"""Random streams: the xoroshiro128+ algorithm as published, numba.cuda's seeding, and the
distributions drawn from it."""
import numpy as np
import pytest
from numba import njit
from scipy import stats

from neurosim import rng
from neurosim.kernels import rng as krng

MASK = (1 << 64) - 1


def naive_xoroshiro(s0, s1, n):
    """Blackman and Vigna's xoroshiro128+ (a=55, b=14, c=36) in plain Python integers."""
    out = []
    for _ in range(n):
        out.append((s0 + s1) & MASK)
        s1 ^= s0
        s0 = (((s0 << 55) | (s0 >> 9)) & MASK) ^ s1 ^ ((s1 << 14) & MASK)
        s1 = ((s1 << 36) | (s1 >> 28)) & MASK
    return out


@njit
def draw_u64(state, i, n):
    out = np.empty(n, dtype=np.uint64)
    for k in range(n):
        out[k] = krng.next_u64(state, i)
    return out


@njit
def draw(state, kind, n, m):
    out = np.empty(n)
    for k in range(n):
        if kind == 0:
            out[k] = krng.uniform(state, 0)
        elif kind == 1:
            out[k] = krng.normal(state, 0)
        else:
            out[k] = krng.randint(state, 0, m)
    return out


@njit
def permutations(state, n_perm, size):
    out = np.empty((n_perm, size), dtype=np.int64)
    order = np.arange(size)
    for p in range(n_perm):
        for k in range(size):
            order[k] = k
        krng.shuffle(state, 0, order)
        out[p] = order
    return out


pytestmark = pytest.mark.kernel


def test_raw_draws_match_the_published_algorithm():
    state = rng.streams(123, 3)
    for i in range(3):
        ref = naive_xoroshiro(int(state[i, 0]), int(state[i, 1]), 50)
        assert draw_u64(state.copy(), i, 50).tolist() == ref


def test_seeding_matches_numba_cuda_random():
    cuda_random = pytest.importorskip("numba.cuda.random")
    states = np.zeros(6, dtype=cuda_random.xoroshiro128p_dtype)
    cuda_random.init_xoroshiro128p_states_cpu(states, rng.seed64(5), 2)
    ours = rng.streams(5, 6, first=2)
    assert np.array_equal(ours, states.view(np.uint64).reshape(6, 2))


def test_same_seed_same_streams_and_stream_k_does_not_depend_on_n():
    a = rng.streams(42, 8)
    assert np.array_equal(a, rng.streams(42, 8))
    assert not np.array_equal(a, rng.streams(43, 8))
    assert np.array_equal(a[5], rng.streams(42, 1, first=5)[0])
    assert len({tuple(r) for r in a.tolist()}) == 8


def test_uniform_and_normal_distributions():
    u = draw(rng.streams(1, 1), 0, 200_000, 0)
    assert u.min() >= 0 and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    z = draw(rng.streams(2, 1), 1, 200_000, 0)
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_randint_is_uniform_over_its_range():
    k = draw(rng.streams(3, 1), 2, 70_000, 7).astype(int)
    counts = np.bincount(k, minlength=7)
    assert k.min() == 0 and k.max() == 6
    assert stats.chisquare(counts).pvalue > 1e-3


def test_shuffle_gives_every_permutation_equally_often():
    perms = permutations(rng.streams(4, 1), 24_000, 4)
    assert all(sorted(p) == [0, 1, 2, 3] for p in perms[:100].tolist())
    codes = perms @ np.array([64, 16, 4, 1])
    _, counts = np.unique(codes, return_counts=True)
    assert counts.size == 24
    assert stats.chisquare(counts).pvalue > 1e-3


def test_streams_are_uncorrelated():
    state = rng.streams(9, 2)
    a = np.array([krng.uniform(state, 0) for _ in range(20_000)])
    b = np.array([krng.uniform(state, 1) for _ in range(20_000)])
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.03


def test_generator_is_reproducible():
    assert np.array_equal(rng.generator(7).normal(size=5), rng.generator(7).normal(size=5))
    assert not np.array_equal(rng.generator(7).normal(size=5), rng.generator(8).normal(size=5))


@pytest.mark.parametrize("seed, err", [(-1, ValueError), (1.5, TypeError), ("3", TypeError), (True, TypeError)])
def test_bad_seeds(seed, err):
    with pytest.raises(err, match="seed"):
        rng.streams(seed, 2)


def test_bad_stream_count():
    with pytest.raises(ValueError, match="n"):
        rng.streams(0, 0)


@pytest.mark.parametrize("seed", [0, 7, 2 ** 63 - 1, 2 ** 63, 2 ** 70, None,
                                  np.random.SeedSequence(5, spawn_key=(1, 2)),
                                  np.random.SeedSequence(2 ** 100)])
def test_seed_attr_round_trip_draws_the_same_numbers(seed, tmp_path):
    import xarray as xr

    attr = rng.to_attr(seed)
    path = tmp_path / "a.nc"
    xr.Dataset(attrs={"seed": attr}).to_netcdf(path)       # a netCDF attribute can hold it
    with xr.open_dataset(path) as ds:
        back = rng.from_attr(ds.attrs["seed"])
    if seed is None:
        assert back is None
    else:
        np.testing.assert_array_equal(rng.streams(back, 3), rng.streams(seed, 3))


def test_seed_attr_refusals():
    with pytest.raises(ValueError, match=">= 0"):
        rng.to_attr(-1)
    with pytest.raises(TypeError, match="seed"):
        rng.to_attr(1.5)
    with pytest.raises(ValueError, match="list of ints"):
        rng.to_attr(np.random.SeedSequence([1, 2]))
    with pytest.raises(ValueError, match="seed attribute"):
        rng.from_attr("abc")


def test_child_is_the_spawned_child_and_does_not_count():
    ss = np.random.SeedSequence(11)
    spawned = ss.spawn(3)
    for k in range(3):
        assert rng.child(11, k).spawn_key == spawned[k].spawn_key
        np.testing.assert_array_equal(rng.streams(rng.child(11, k), 2), rng.streams(spawned[k], 2))
    assert rng.child(rng.child(11, 2), 5).spawn_key == rng.child(11, (2, 5)).spawn_key == (2, 5)
    assert rng.child(11, 0).spawn_key == (0,)       # no hidden counter: same key every call


def test_generator_does_not_depend_on_a_seed_sequences_spawn_counter():
    ss = np.random.SeedSequence(3)
    a = rng.generator(ss).random(4)
    b = rng.generator(ss).random(4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, np.random.default_rng(np.random.SeedSequence(3).spawn(1)[0]).random(4))


@pytest.mark.parametrize("bad, error", [("5", TypeError), (-1, ValueError), (1.5, TypeError),
                                        (True, TypeError),
                                        (np.random.SeedSequence([1, 2]), ValueError)])
def test_check_refuses_what_sequence_or_to_attr_refuse(bad, error):
    with pytest.raises(error, match="seed"):
        rng.check(bad)


def test_seed64_of_an_int_is_the_sequences_first_word_remembered_or_not():
    for seed in (0, 7, 2 ** 70, np.int64(3)):
        expect = np.random.SeedSequence(int(seed)).generate_state(1, np.uint64)[0]
        assert rng.seed64(seed) == expect and rng.seed64(seed) == expect
    ss = np.random.SeedSequence(5, spawn_key=(2,))
    assert rng.seed64(ss) == ss.generate_state(1, np.uint64)[0]
