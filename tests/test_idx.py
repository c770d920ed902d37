"""IDX reading and writing, checked against the published byte layout, and the MNIST loader."""
import gzip

import numpy as np
import pytest

from neurosim.datasets.idx import fashion_mnist, mnist, read_idx, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def _data(dtype, shape, seed=0):
    r = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return r.integers(info.min, info.max, shape, endpoint=True, dtype=dtype)
    return r.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5), (2, 1, 3, 2)])
def test_round_trip(tmp_path, dtype, shape):
    a = _data(dtype, shape)
    for name in ("a.idx", "a.idx.gz"):
        write_idx(tmp_path / name, a)
        b = read_idx(tmp_path / name)
        assert b.dtype == a.dtype and b.dtype.isnative and b.shape == shape
        np.testing.assert_array_equal(b, a)


def test_gzip_detected_by_content_not_name(tmp_path):
    a = np.arange(6, dtype=np.int16).reshape(2, 3)
    write_idx(tmp_path / "a.gz", a)
    assert (tmp_path / "a.gz").read_bytes()[:2] == b"\x1f\x8b"
    (tmp_path / "plain").write_bytes((tmp_path / "a.gz").read_bytes())
    write_idx(tmp_path / "b", a)
    (tmp_path / "b.gz").write_bytes((tmp_path / "b").read_bytes())    # named .gz, not gzipped
    for name in ("plain", "b.gz"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), a)


# Hand-assembled files following the published layout (yann.lecun.com/exdb/mnist):
# 0x00 0x00, type code, ndim, big-endian uint32 sizes, big-endian data.
KNOWN = [
    (b"\x00\x00\x08\x02" b"\x00\x00\x00\x02" b"\x00\x00\x00\x03" b"\x01\x02\x03\xfd\xfe\xff",
     np.array([[1, 2, 3], [253, 254, 255]], np.uint8)),
    (b"\x00\x00\x09\x01" b"\x00\x00\x00\x02" b"\x7f\x80", np.array([127, -128], np.int8)),
    (b"\x00\x00\x0b\x01" b"\x00\x00\x00\x02" b"\x01\x02\xff\xfe", np.array([258, -2], np.int16)),
    (b"\x00\x00\x0c\x01" b"\x00\x00\x00\x01" b"\x01\x02\x03\x04", np.array([0x01020304], np.int32)),
    (b"\x00\x00\x0d\x01" b"\x00\x00\x00\x02" b"\x3f\x80\x00\x00\xc0\x00\x00\x00",
     np.array([1.0, -2.0], np.float32)),
    (b"\x00\x00\x0e\x01" b"\x00\x00\x00\x01" b"\x3f\xf8\x00\x00\x00\x00\x00\x00",
     np.array([1.5], np.float64)),
]


@pytest.mark.parametrize("raw, expected", KNOWN)
def test_published_layout(tmp_path, raw, expected):
    (tmp_path / "f").write_bytes(raw)
    (tmp_path / "f.gz").write_bytes(gzip.compress(raw))
    for name in ("f", "f.gz"):
        got = read_idx(tmp_path / name)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    write_idx(tmp_path / "w", expected)
    assert (tmp_path / "w").read_bytes() == raw


def test_mnist_magic_numbers(tmp_path):
    # the MNIST page gives 2051 for image files and 2049 for label files
    write_idx(tmp_path / "i", np.zeros((2, 28, 28), np.uint8))
    write_idx(tmp_path / "l", np.zeros(2, np.uint8))
    assert (tmp_path / "i").read_bytes()[:4] == (2051).to_bytes(4, "big")
    assert (tmp_path / "l").read_bytes()[:4] == (2049).to_bytes(4, "big")


HEADER = b"\x00\x00\x08\x01\x00\x00\x00\x03"


@pytest.mark.parametrize("raw, message", [
    (b"", "not an IDX file"),
    (b"\x00\x01\x08\x01\x00\x00\x00\x01\x00", "not an IDX file"),
    (b"\x00\x00\x0a\x01\x00\x00\x00\x01\x00", "unknown IDX type code 0x0A"),
    (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated IDX header"),
    (HEADER + b"\x01\x02", "promises shape (3,)"),
    (HEADER + b"\x01\x02\x03\x04", "promises shape (3,)"),
    (b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
])
def test_read_errors(tmp_path, raw, message):
    path = tmp_path / "bad-file"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match="bad-file") as err:
        read_idx(path)
    assert message in str(err.value)


def test_truncated_gzip_data(tmp_path):
    (tmp_path / "t.gz").write_bytes(gzip.compress(HEADER + b"\x01"))
    with pytest.raises(ValueError, match=r"11 bytes in all, but the file holds 9"):
        read_idx(tmp_path / "t.gz")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")


@pytest.mark.parametrize("dtype", [np.int64, np.uint16, np.float16, bool, np.complex128])
def test_write_rejects_other_dtypes(tmp_path, dtype):
    with pytest.raises(TypeError, match=np.dtype(dtype).name):
        write_idx(tmp_path / "x", np.zeros(3, dtype))
    assert not (tmp_path / "x").exists()


def test_write_rejects_huge_dimensions(tmp_path):
    huge = np.broadcast_to(np.uint8(0), (2**32,))                  # a view: no memory used
    with pytest.raises(ValueError, match="2\\*\\*32"):
        write_idx(tmp_path / "x", huge)


def _mnist_folder(folder, kind="train", n=5, gz=(False, False)):
    images = np.random.default_rng(1).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = np.arange(n, dtype=np.uint8) % 10
    prefix = "train" if kind == "train" else "t10k"
    folder.mkdir(exist_ok=True)
    write_idx(folder / (f"{prefix}-images-idx3-ubyte" + ".gz" * gz[0]), images)
    write_idx(folder / (f"{prefix}-labels-idx1-ubyte" + ".gz" * gz[1]), labels)
    return images, labels


@pytest.mark.parametrize("gz", [(False, False), (True, True), (True, False)])
@pytest.mark.parametrize("kind", ["train", "test"])
def test_mnist(tmp_path, kind, gz):
    images, labels = _mnist_folder(tmp_path, kind, gz=gz)
    X, y = mnist(tmp_path, kind)
    assert X.dtype == np.float64 and X.shape == (5, 784)
    assert y.dtype == np.int64 and y.shape == (5,)
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_allclose(X, images.reshape(5, 784) / 255.0)
    np.testing.assert_array_equal(y, labels)
    Xf, yf = fashion_mnist(str(tmp_path), kind)
    np.testing.assert_array_equal(Xf, X)
    np.testing.assert_array_equal(yf, y)


def test_mnist_errors(tmp_path):
    with pytest.raises(ValueError, match="'test', 'train'.*'valid'"):
        mnist(tmp_path, "valid")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        mnist(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no train-images-idx3-ubyte or .*ubyte.gz in"):
        mnist(tmp_path)
    _mnist_folder(tmp_path, "train")
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        mnist(tmp_path, "test")
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte.gz"):
        mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="5 images .* but 4 labels"):
        mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros((5, 1), np.uint8))
    with pytest.raises(ValueError, match=r"labels of shape \(n,\)"):
        mnist(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((5, 784), np.uint8))
    with pytest.raises(ValueError, match=r"images of shape \(n, rows, columns\)"):
        mnist(tmp_path)
