"""CIFAR-10 reader, download, splits and the on-device batch loader."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from wsnas.config import DataConfig
from wsnas.core.errors import DataError
from wsnas.data import cifar
from wsnas.data.cifar import (
    BATCH_DIR,
    load_cifar10,
    split_indices,
)
from wsnas.data.datasets import load_splits
from wsnas.data.device_loader import CIFAR10_MEAN, CIFAR10_STD, DeviceLoader, crop_flip

PER_BATCH = 40  # 200 train + 40 test images: enough to exercise everything, fast to write

# ---- writing the official layout ----------------------------------------------------------


class Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes what Python 2's cPickle wrote for the official archive: every string is a
    byte string (BINSTRING) and numpy arrays name `numpy.core.multiarray._reconstruct`."""

    dispatch = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def save_bytes(self, obj: bytes) -> None:
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    def save_str(self, obj: str) -> None:
        self.save_bytes(obj.encode("latin1"))

    def save_global(self, obj, name=None) -> None:
        if getattr(obj, "__name__", None) == "_reconstruct":
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
        else:
            super().save_global(obj, name)

    dispatch[bytes] = save_bytes
    dispatch[str] = save_str


def _dump(obj: object, path: Path, style: str) -> None:
    if style == "py2":
        buf = io.BytesIO()
        Py2Pickler(buf, protocol=2).dump(obj)
        path.write_bytes(buf.getvalue())
    else:  # what make_python_batches.py (Python 3, protocol 2) writes
        path.write_bytes(pickle.dumps(obj, protocol=2))


def write_layout(root: Path, style: str = "py3", per_batch: int = PER_BATCH, seed: int = 0):
    """ROOT/cifar-10-batches-py with the official files, keys and dtypes; returns the arrays."""
    rng = np.random.default_rng(seed)
    folder = root / BATCH_DIR
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, names in (("train", cifar.TRAIN_FILES), ("test", cifar.TEST_FILES)):
        xs, ys = [], []
        for name in names:
            data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
            labels = rng.integers(0, 10, per_batch).tolist()
            d = {
                b"batch_label": f"{name} of 5".encode(),
                b"labels": labels,
                b"data": data,
                b"filenames": [f"img_{k}.png".encode() for k in range(per_batch)],
            }
            _dump(d, folder / name, style)
            xs.append(data.reshape(-1, 3, 32, 32))
            ys.append(np.array(labels))
        out[split] = (np.concatenate(xs), np.concatenate(ys))
    meta = {
        b"num_cases_per_batch": per_batch,
        b"label_names": [n.encode() for n in cifar.CLASS_NAMES],
        b"num_vis": 3072,
    }
    _dump(meta, folder / cifar.META_FILE, style)
    return out


@pytest.fixture
def fake_root(tmp_path):
    expected = write_layout(tmp_path)
    return tmp_path, expected


# ---- reading --------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["py3", "py2"])
def test_reads_official_layout_exactly(tmp_path, style):
    expected = write_layout(tmp_path, style)
    train, test = load_cifar10(tmp_path)
    for got, (x, y) in ((train, expected["train"]), (test, expected["test"])):
        assert got.x.dtype == np.uint8 and got.x.shape == x.shape and got.x.flags.c_contiguous
        assert got.y.dtype == np.int64
        np.testing.assert_array_equal(got.x, x)
        np.testing.assert_array_equal(got.y, y)
    assert train.x.shape == (5 * PER_BATCH, 3, 32, 32)
    # R, G, B planes: the first 1024 values of a row are the red channel
    raw = pickle.loads((tmp_path / BATCH_DIR / "data_batch_1").read_bytes(), encoding="bytes")
    np.testing.assert_array_equal(train.x[0, 0].ravel(), raw[b"data"][0, :1024])


def test_missing_folder_says_where_and_how(tmp_path):
    with pytest.raises(DataError) as e:
        load_cifar10(tmp_path / "nowhere")
    msg = str(e.value)
    assert str(tmp_path / "nowhere" / BATCH_DIR) in msg
    assert "data.download=true" in msg and "data_batch_1" in msg and "test_batch" in msg


def test_missing_file_is_named(fake_root):
    root, _ = fake_root
    (root / BATCH_DIR / "data_batch_3").unlink()
    with pytest.raises(DataError, match="lacks data_batch_3") as e:
        load_cifar10(root, download=True)  # an incomplete folder is never replaced
    assert str(root / BATCH_DIR) in str(e.value) and "download" in str(e.value)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_file_is_named(fake_root, damage):
    root, _ = fake_root
    path = root / BATCH_DIR / "data_batch_2"
    raw = path.read_bytes()
    path.write_bytes({"truncate": raw[: len(raw) // 2], "garbage": os.urandom(5000), "empty": b""}[damage])
    with pytest.raises(DataError, match="corrupt") as e:
        load_cifar10(root)
    assert str(path) in str(e.value)


def _rewrite(root: Path, name: str, **changes) -> Path:
    path = root / BATCH_DIR / name
    d = pickle.loads(path.read_bytes(), encoding="bytes")
    d.update({k.encode(): v for k, v in changes.items()})
    path.write_bytes(pickle.dumps(d, protocol=2))
    return path


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"data": np.zeros((PER_BATCH, 1024), np.uint8)}, r"uint8 \[N, 3072\], got uint8 \[40, 1024\]"),
        ({"data": np.zeros((PER_BATCH, 3072), np.float32)}, r"got float32"),
        ({"labels": [0] * (PER_BATCH - 1)}, r"39 labels for 40 images"),
        ({"labels": [10] * PER_BATCH}, r"labels must be in 0..9"),
        ({"labels": ["cat"] * PER_BATCH}, r"not a list of integers"),
    ],
)
def test_wrong_content_is_named(fake_root, changes, match):
    path = _rewrite(fake_root[0], "data_batch_4", **changes)
    with pytest.raises(DataError, match=match) as e:
        load_cifar10(fake_root[0])
    assert str(path) in str(e.value)


def test_missing_key(fake_root):
    path = fake_root[0] / BATCH_DIR / "test_batch"
    path.write_bytes(pickle.dumps({b"labels": [1]}, protocol=2))
    with pytest.raises(DataError, match="key b'data' missing"):
        load_cifar10(fake_root[0])


class _Evil:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (str(self.target),))


def test_unpickler_runs_no_code(fake_root, tmp_path):
    target = tmp_path / "pwned"
    path = fake_root[0] / BATCH_DIR / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": _Evil(target)}, protocol=2))
    with pytest.raises(DataError, match="not allowed"):
        load_cifar10(fake_root[0])
    assert not target.exists()


def test_codecs_encode_only_latin1(fake_root):
    import codecs

    class Rot:
        def __reduce__(self):
            return (codecs.encode, ("abc", "rot13"))

    path = fake_root[0] / BATCH_DIR / "batches.meta"
    path.write_bytes(pickle.dumps({b"x": Rot()}, protocol=2))
    with pytest.raises(DataError, match="not allowed"):
        load_cifar10(fake_root[0])


# ---- download ---------------------------------------------------------------------------------


def _archive(tmp_path: Path, extra: dict[str, bytes | str] | None = None) -> tuple[bytes, dict]:
    """A tar.gz like the official one; extra: name -> file content, or symlink target (str)."""
    src = tmp_path / "src"
    expected = write_layout(src, "py2")
    (src / BATCH_DIR / "readme.html").write_text("<html></html>")  # as in the real archive
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src / BATCH_DIR, arcname=BATCH_DIR)
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            if isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue(), expected


class _Opener:
    def __init__(self, payload: bytes) -> None:
        self.payload, self.calls = payload, []

    def __call__(self, url, timeout=None):
        self.calls.append(url)
        return io.BytesIO(self.payload)


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_download_extracts_and_reads(tmp_path, monkeypatch):
    payload, expected = _archive(tmp_path)
    opener = _Opener(payload)
    monkeypatch.setattr(cifar, "_urlopen", opener)
    monkeypatch.setattr(cifar, "CIFAR10_MD5", hashlib.md5(payload).hexdigest())
    root = tmp_path / "data"
    train, test = load_cifar10(root, download=True)
    assert opener.calls == [cifar.CIFAR10_URL]
    np.testing.assert_array_equal(train.x, expected["train"][0])
    np.testing.assert_array_equal(test.y, expected["test"][1])
    assert _leftovers(root) == [BATCH_DIR]  # temp archive and folders are gone
    load_cifar10(root, download=True)  # present now: no second download
    assert len(opener.calls) == 1


def test_no_download_unless_allowed(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar, "_urlopen", _Opener(b""))
    with pytest.raises(DataError, match="data.download=true"):
        load_cifar10(tmp_path / "data", download=False)
    assert cifar._urlopen.calls == []


def test_download_md5_mismatch_leaves_nothing(tmp_path, monkeypatch):
    payload, _ = _archive(tmp_path)
    monkeypatch.setattr(cifar, "_urlopen", _Opener(payload))
    root = tmp_path / "data"
    with pytest.raises(
        DataError, match=f"md5 {hashlib.md5(payload).hexdigest()} != expected {cifar.CIFAR10_MD5}"
    ):
        load_cifar10(root, download=True)
    assert _leftovers(root) == []


@pytest.mark.parametrize(
    "member", [{f"{BATCH_DIR}/../../escaped": b"x"}, {f"{BATCH_DIR}/escaped": "/etc/passwd"}]
)
def test_download_rejects_path_traversal(tmp_path, monkeypatch, member):
    payload, _ = _archive(tmp_path, member)
    monkeypatch.setattr(cifar, "_urlopen", _Opener(payload))
    monkeypatch.setattr(cifar, "CIFAR10_MD5", hashlib.md5(payload).hexdigest())
    root = tmp_path / "data"
    with pytest.raises(DataError, match="cannot be extracted: unsafe member"):
        load_cifar10(root, download=True)
    assert not (tmp_path / "escaped").exists() and not (root.parent / "escaped").exists()
    assert _leftovers(root) == []


def test_download_network_error(tmp_path, monkeypatch):
    def fail(url, timeout=None):
        raise OSError("no route to host")

    monkeypatch.setattr(cifar, "_urlopen", fail)
    with pytest.raises(DataError, match="download .* failed .*no route to host"):
        load_cifar10(tmp_path / "data", download=True)
    assert _leftovers(tmp_path / "data") == []


# ---- splits -------------------------------------------------------------------------------------


def test_split_sizes_disjoint_and_reproducible():
    tr, va = split_indices(1000, 100, 0.5, seed=3)
    assert len(va) == 100 and len(tr) == 450
    assert tr.dtype == va.dtype == np.int64
    assert not set(tr) & set(va) and set(tr) | set(va) <= set(range(1000))
    assert np.all(np.diff(tr) > 0) and np.all(np.diff(va) > 0)
    tr2, va2 = split_indices(1000, 100, 0.5, seed=3)
    np.testing.assert_array_equal(tr, tr2)
    np.testing.assert_array_equal(va, va2)
    tr3, va3 = split_indices(1000, 100, 0.5, seed=4)
    assert not np.array_equal(va, va3)


def test_split_portions_nest_and_keep_valid():
    tr_small, va_a = split_indices(1000, 100, 0.25, seed=0)
    tr_big, va_b = split_indices(1000, 100, 1.0, seed=0)
    np.testing.assert_array_equal(va_a, va_b)
    assert set(tr_small) <= set(tr_big) and len(tr_big) == 900
    full, none = split_indices(1000, 0, 1.0, seed=0)
    np.testing.assert_array_equal(full, np.arange(1000))
    assert len(none) == 0


def test_split_rejects_bad_sizes():
    with pytest.raises(DataError, match="valid_size=1000"):
        split_indices(1000, 1000, 1.0, seed=0)


def test_load_splits(fake_root):
    root, expected = fake_root
    x, y = expected["train"]
    cfg = DataConfig(root=str(root), valid_size=50, train_portion=0.5)
    s = load_splits(cfg, seed=1)
    assert len(s.train.y) == 75 and len(s.valid.y) == 50 and len(s.test.y) == PER_BATCH
    np.testing.assert_array_equal(s.train.x, x[s.train_idx])
    np.testing.assert_array_equal(s.valid.y, y[s.valid_idx])
    assert s.eval_split() is s.test and s.eval_split("valid") is s.valid
    assert s.eval_split("train") is s.train
    ex, ey = s.eval_split("test")  # a Split unpacks like (x, y)
    np.testing.assert_array_equal(ey, expected["test"][1])
    s0 = load_splits(DataConfig(root=str(root)), seed=1)
    assert s0.valid is None and len(s0.train.y) == 5 * PER_BATCH
    with pytest.raises(DataError, match="valid_size > 0"):
        s0.eval_split("valid")
    with pytest.raises(DataError, match="valid_size > 0"):
        load_splits(DataConfig(root=str(root), eval_split="valid"), seed=1)


# ---- augmentation and the loader -------------------------------------------------------------


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)


def _ref_crop_flip(img: np.ndarray, oy: int, ox: int, flip: bool, pad: int = 4) -> np.ndarray:
    p = np.pad(img, ((0, 0), (pad, pad), (pad, pad)))
    out = p[:, oy : oy + 32, ox : ox + 32]
    return out[:, :, ::-1] if flip else out


def test_crop_flip_matches_numpy_reference():
    x = _images(64)
    g = torch.Generator().manual_seed(0)
    oy, ox = torch.randint(0, 9, (2, 64), generator=g)
    flip = torch.randint(0, 2, (64,), generator=g).bool()
    oy[:4] = torch.tensor([0, 8, 0, 8])  # the extreme corners
    ox[:4] = torch.tensor([0, 8, 8, 0])
    got = crop_flip(torch.from_numpy(x), oy, ox, flip).numpy()
    for i in range(64):
        ref = _ref_crop_flip(x[i], int(oy[i]), int(ox[i]), bool(flip[i]))
        np.testing.assert_array_equal(got[i], ref)
    centre = crop_flip(
        torch.from_numpy(x), torch.full((64,), 4), torch.full((64,), 4), torch.zeros(64, dtype=torch.bool)
    )
    np.testing.assert_array_equal(centre.numpy(), x)
    mirrored = crop_flip(
        torch.from_numpy(x), torch.full((64,), 4), torch.full((64,), 4), torch.ones(64, dtype=torch.bool)
    )
    np.testing.assert_array_equal(mirrored.numpy(), x[..., ::-1])


def _denorm(xb: torch.Tensor) -> np.ndarray:
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    v = (xb.float() * std + mean) * 255
    r = v.round()
    assert (v - r).abs().max() < 1e-3
    return r.to(torch.uint8).numpy()


def test_stated_normalisation():
    assert CIFAR10_MEAN == (0.4914, 0.4822, 0.4465)
    assert CIFAR10_STD == (0.2470, 0.2435, 0.2616)
    x = np.zeros((2, 3, 32, 32), np.uint8)
    x[1] = 255
    ((xb, _),) = DeviceLoader(x, np.zeros(2), batch_size=2)
    assert xb.dtype == torch.float32 and xb.shape == (2, 3, 32, 32)
    for c in range(3):
        m, s = CIFAR10_MEAN[c], CIFAR10_STD[c]
        torch.testing.assert_close(xb[0, c], torch.full((32, 32), -m / s))
        torch.testing.assert_close(xb[1, c], torch.full((32, 32), (1 - m) / s))


def _matching_crops(img: np.ndarray, orig: np.ndarray) -> list[tuple[int, int, bool]]:
    """Every (oy, ox, flip) whose crop of the zero-padded orig equals img."""
    win = np.lib.stride_tricks.sliding_window_view(
        np.pad(orig, ((0, 0), (4, 4), (4, 4))), (32, 32), axis=(1, 2)
    )  # [3, 9, 9, 32, 32]
    out = []
    for f, target in ((False, img), (True, img[:, :, ::-1])):
        hit = (win == target[:, None, None]).all(axis=(0, 3, 4))
        out += [(int(oy), int(ox), f) for oy, ox in zip(*np.nonzero(hit), strict=True)]
    return out


def test_augmented_batches_are_crops_of_padded_images():
    n = 1000
    x = _images(n)
    loader = DeviceLoader(x, np.arange(n), batch_size=128, shuffle=True, augment=True, seed=5)
    loader.set_epoch(2)
    seen_offsets, seen_flips = set(), set()
    for xb, yb in loader:
        assert xb.shape[1:] == (3, 32, 32) and xb.dtype == torch.float32
        assert yb.dtype == torch.int64
        imgs = _denorm(xb)
        for img, i in zip(imgs, yb.tolist(), strict=True):
            found = _matching_crops(img, x[i])
            assert found, f"sample {i} is not a crop/flip of its padded image"
            if len(found) == 1:
                seen_offsets.add(found[0][:2])
                seen_flips.add(found[0][2])
    assert len(seen_offsets) == 81 and seen_flips == {False, True}


def test_unaugmented_batches_are_exact():
    x = _images(100)
    loader = DeviceLoader(x, np.arange(100), batch_size=32, shuffle=True, seed=1)
    loader.set_epoch(0)
    for xb, yb in loader:
        np.testing.assert_array_equal(_denorm(xb), x[yb.numpy()])


def _epoch(loader: DeviceLoader, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    loader.set_epoch(epoch)
    xs, ys = zip(*loader, strict=True)
    return torch.cat(xs), torch.cat(ys)


def test_same_seed_epoch_same_batches_resume_safe():
    x = _images(200)

    def make(seed: int = 7) -> DeviceLoader:
        return DeviceLoader(x, np.arange(200), batch_size=48, shuffle=True, augment=True, seed=seed)

    a, b = make(), make()
    for e in range(3):  # an uninterrupted run ...
        _epoch(a, e)
    xa, ya = _epoch(a, 3)
    xb, yb = _epoch(b, 3)  # ... and one resumed at epoch 3
    assert torch.equal(xa, xb) and torch.equal(ya, yb)
    xc, yc = _epoch(b, 4)
    assert not torch.equal(ya, yc) and not torch.equal(xa[ya.argsort()], xc[yc.argsort()])
    xd, yd = _epoch(make(seed=8), 3)
    assert not torch.equal(ya, yd)
    # augmentation differs across epochs for the same image
    assert not torch.equal(xa[ya.argsort()], xc[yc.argsort()])


def test_epoch_is_a_permutation_and_lengths():
    loader = DeviceLoader(_images(100), np.arange(100), batch_size=32, shuffle=True)
    assert len(loader) == 4
    _, ys = _epoch(loader, 0)
    assert sorted(ys.tolist()) == list(range(100)) and ys.tolist() != list(range(100))
    sizes = [len(yb) for _, yb in loader]
    assert sizes == [32, 32, 32, 4]
    dl = DeviceLoader(_images(100), np.arange(100), batch_size=32, shuffle=True, drop_last=True)
    assert len(dl) == 3
    _, ys = _epoch(dl, 1)
    assert len(ys) == 96 and len(set(ys.tolist())) == 96
    plain = DeviceLoader(_images(100), np.arange(100), batch_size=32)
    _, ys = _epoch(plain, 9)
    assert ys.tolist() == list(range(100))


def test_loader_options_and_errors():
    x = _images(10)
    cl = DeviceLoader(x, np.arange(10), batch_size=4, channels_last=True, dtype=torch.bfloat16)
    xb, _ = next(iter(cl))
    assert xb.dtype == torch.bfloat16 and xb.is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(DataError, match="no batch"):
        DeviceLoader(x, np.arange(10), batch_size=16, drop_last=True)
    with pytest.raises(DataError, match="uint8"):
        DeviceLoader(x.astype(np.float32), np.arange(10), batch_size=4)
    with pytest.raises(DataError, match="labels for 10 images"):
        DeviceLoader(x, np.arange(9), batch_size=4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_loader_deterministic():
    x = _images(500)

    def make() -> DeviceLoader:
        return DeviceLoader(
            x,
            np.arange(500),
            batch_size=128,
            device="cuda",
            shuffle=True,
            augment=True,
            channels_last=True,
            seed=3,
        )

    xa, ya = _epoch(make(), 2)
    xb, yb = _epoch(make(), 2)
    assert xa.is_cuda and torch.equal(xa, xb) and torch.equal(ya, yb)
    assert sorted(ya.tolist()) == list(range(500))
    imgs = _denorm(xa.cpu())
    for img, i in zip(imgs[:50], ya[:50].tolist(), strict=True):
        assert _matching_crops(img, x[i])


# ---- real data ----------------------------------------------------------------------------------


def test_real_cifar10(cifar10_root):
    train, test = load_cifar10(cifar10_root)
    assert train.x.shape == (50_000, 3, 32, 32) and test.x.shape == (10_000, 3, 32, 32)
    assert np.bincount(train.y, minlength=10).tolist() == [5000] * 10
    assert np.bincount(test.y, minlength=10).tolist() == [1000] * 10
    flat = train.x.transpose(1, 0, 2, 3).reshape(3, -1)
    np.testing.assert_allclose(flat.mean(1) / 255, CIFAR10_MEAN, atol=2e-3)
    # JPEG smoothing lowers the std a little (about 0.002) from the original figures
    np.testing.assert_allclose(flat[:, ::7].std(1) / 255, CIFAR10_STD, atol=5e-3)
    loader = DeviceLoader(train.x, train.y, batch_size=5000, shuffle=True, seed=0)
    loader.set_epoch(0)
    xb, _ = next(iter(loader))
    torch.testing.assert_close(xb.mean((0, 2, 3)), torch.zeros(3), atol=0.03, rtol=0)
    torch.testing.assert_close(xb.std((0, 2, 3)), torch.ones(3), atol=0.03, rtol=0)
