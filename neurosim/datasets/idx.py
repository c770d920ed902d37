"""IDX files, the binary format of MNIST and Fashion-MNIST, read and written without pickle.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the data, big-endian and row-major. Files may be
gzip-compressed; the reader detects that from the content, not the name.
"""
import gzip
import math
import os
from pathlib import Path

import numpy as np

# type code <-> data type (byte order and kind without the "<"/">" prefix)
_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: "i2", 0x0C: "i4", 0x0D: "f4", 0x0E: "f8"}
_CODES = {t: code for code, t in _TYPES.items()}

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path):
    """Read one IDX file, plain or gzip-compressed.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    ndarray
        The data with the shape and type the header gives (uint8, int8, int16, int32, float32
        or float64), in native byte order.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not IDX (bad magic, unknown type code) or its length differs from the
        one the header promises (truncated, or extra bytes).
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"{path}: corrupt gzip data ({err})") from err
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise ValueError(f"{path} is not an IDX file: it starts with {raw[:4]!r}, "
                         "not two zero bytes, a type code and a dimension count")
    code, ndim = raw[2], raw[3]
    if code not in _TYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02X}; known codes are "
                         + ", ".join(f"0x{c:02X} ({t})" for c, t in _TYPES.items()))
    dtype = np.dtype(">" + _TYPES[code])
    start = 4 + 4 * ndim
    if len(raw) < start:
        raise ValueError(f"{path}: truncated IDX header: {ndim} dimensions need {start} bytes, "
                         f"the file has {len(raw)}")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", ndim, 4))
    size = start + dtype.itemsize * math.prod(shape)
    if len(raw) != size:
        raise ValueError(f"{path}: the IDX header promises shape {shape} of {dtype.name}, "
                         f"{size} bytes in all, but the file holds {len(raw)} (uncompressed)")
    return np.frombuffer(raw, dtype, offset=start).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array):
    """Write ``array`` as one IDX file, gzip-compressed when ``path`` ends in ``.gz``.

    Parameters
    ----------
    path : str or path-like
        The file to create (or overwrite).
    array : array_like
        uint8, int8, int16, int32, float32 or float64 data of any shape whose sizes fit in
        uint32.

    Raises
    ------
    TypeError
        For any other data type.
    ValueError
        If a dimension is longer than 2**32 - 1.
    """
    a = np.asarray(array)
    kind = a.dtype.str[1:]
    if kind not in _CODES:
        raise TypeError("array must be uint8, int8, int16, int32, float32 or float64 to be "
                        f"written as IDX; got {a.dtype}")
    if any(s > 0xFFFFFFFF for s in a.shape):
        raise ValueError(f"IDX dimensions must be < 2**32; got shape {a.shape}")
    data = (bytes([0, 0, _CODES[kind], a.ndim]) + np.array(a.shape, ">u4").tobytes()
            + a.astype(">" + kind).tobytes())
    path = os.fspath(path)
    with (gzip.open if path.endswith(".gz") else open)(path, "wb") as f:
        f.write(data)


def _find(folder, name):
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def mnist(path, kind="train"):
    """MNIST (or Fashion-MNIST) from a folder holding the standard IDX files.

    Both sets use the same format and file names: ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each
    plain or with ``.gz`` (the plain file is used when both exist). Nothing is downloaded.

    Parameters
    ----------
    path : str or path-like
        The folder.
    kind : {"train", "test"}
        The training set (60000 images) or the test set (``t10k``, 10000 images).

    Returns
    -------
    X : ndarray, float64, shape (n, 784)
        Row-major 28x28 images, pixel values scaled from 0..255 to [0, 1].
    y : ndarray, int64, shape (n,)
        Labels 0..9.

    Raises
    ------
    FileNotFoundError
        If the folder or one of the two files is missing (the message names what was looked
        for).
    ValueError
        For a bad ``kind``, a malformed file (see :func:`read_idx`), or images and labels that
        do not match in count, rank or type.
    """
    if kind not in _MNIST_FILES:
        raise ValueError(f"kind must be one of {sorted(_MNIST_FILES)}; got {kind!r}")
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"MNIST folder {str(folder)!r} does not exist or is not a folder")
    files = []
    for name in _MNIST_FILES[kind]:
        found = _find(folder, name)
        if found is None:
            raise FileNotFoundError(f"no {name} or {name}.gz in {str(folder)!r}")
        files.append(found)
    images, labels = read_idx(files[0]), read_idx(files[1])
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{files[0]}: expected uint8 images of shape (n, rows, columns); "
                         f"got {images.dtype} of shape {images.shape}")
    if labels.ndim != 1:
        raise ValueError(f"{files[1]}: expected labels of shape (n,); got shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images in {files[0]} but {len(labels)} labels in "
                         f"{files[1]}")
    X = images.reshape(len(images), -1).astype(np.float64) / 255.0
    return X, labels.astype(np.int64)


def fashion_mnist(path, kind="train"):
    """Fashion-MNIST (Zalando's clothing images, 10 classes) from a folder of IDX files.

    The same format and file names as MNIST, so this is :func:`mnist`: see it for the
    arguments, the ``(X, y)`` it returns and its errors.
    """
    return mnist(path, kind)
