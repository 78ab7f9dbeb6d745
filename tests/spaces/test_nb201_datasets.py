"""NAS-Bench-201's other two data sets: CIFAR-100 and ImageNet16-120, first-class.

Readers run on small files written here in the exact official structures (the test sets
at their full official size, since NAS-Bench-201's x-valid/x-test halves index them);
params/FLOPs per data set are checked against the real NATS records in ../shared/data.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from wsnas.cli.main import main
from wsnas.config import DataConfig, load_config
from wsnas.core.errors import ConfigError, DataError
from wsnas.data import cifar100, imagenet16, nb201_splits
from wsnas.data.cifar100 import load_cifar100
from wsnas.data.datasets import DATASETS, EVAL_SPLITS, load_splits
from wsnas.data.imagenet16 import load_imagenet16_120
from wsnas.spaces import get_space
from wsnas.spaces.check import bench_metric, check_config

ARCHS = {  # the three cells of the NATS sample (index: arch)
    0: "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    11: "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|",
    284: "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|nor_conv_1x1~1|none~2|",
}
METRICS = {
    "cifar10": "cifar10/ori-test",
    "cifar100": "cifar100/x-test",
    "imagenet16_120": "ImageNet16-120/x-test",
}


def _stamped(n: int, size: int, start: int = 0) -> np.ndarray:
    """uint8 [n, size] images whose first two pixels (red plane) spell their position start + i."""
    rng = np.random.default_rng(n + size)
    data = rng.integers(0, 256, (n, size), dtype=np.uint8)
    pos = np.arange(start, start + n)
    data[:, 0], data[:, 1] = pos % 256, pos // 256
    return data


def position(x: np.ndarray) -> np.ndarray:
    """The stamped positions of uint8 NCHW images."""
    return x[:, 0, 0, 0].astype(np.int64) + 256 * x[:, 0, 0, 1].astype(np.int64)


# ---- CIFAR-100: cifar-100-python/{train,test,meta} ---------------------------------------------


def write_cifar100(root: Path, n_train: int = 60, n_test: int = 10_000) -> dict[str, np.ndarray]:
    """ROOT/cifar-100-python as the official archive has it (Python 3, protocol 2 pickles)."""
    folder = root / cifar100.FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, n in (("train", n_train), ("test", n_test)):
        data = _stamped(n, 3072)
        fine = (np.arange(n) * 7 % 100).tolist()
        d = {
            b"filenames": [f"img_{i}.png".encode() for i in range(n)],
            b"batch_label": f"{name}".encode(),
            b"fine_labels": fine,
            b"coarse_labels": [f // 5 for f in fine],
            b"data": data,
        }
        (folder / name).write_bytes(pickle.dumps(d, protocol=2))
        out[f"{name}_x"], out[f"{name}_y"] = data.reshape(-1, 3, 32, 32), np.array(fine)
    meta = {
        b"fine_label_names": [f"f{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"c{i}".encode() for i in range(20)],
    }
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    return out


@pytest.fixture(scope="module")
def c100_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("c100")
    return root, write_cifar100(root)


def test_cifar100_reads_fine_labels_in_file_order(c100_root):
    root, want = c100_root
    train, test = load_cifar100(root)
    assert train.x.shape == (60, 3, 32, 32) and test.x.shape == (10_000, 3, 32, 32)
    assert train.x.dtype == np.uint8 and train.y.dtype == np.int64
    np.testing.assert_array_equal(train.x, want["train_x"])
    np.testing.assert_array_equal(test.y, want["test_y"])  # fine labels, not the coarse ones
    np.testing.assert_array_equal(position(test.x), np.arange(10_000))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_cifar100_corrupt_file_is_named(tmp_path, damage):
    write_cifar100(tmp_path, n_test=20)
    path = tmp_path / cifar100.FOLDER / "train"
    raw = path.read_bytes()
    path.write_bytes({"truncate": raw[: len(raw) // 2], "garbage": os.urandom(3000), "empty": b""}[damage])
    with pytest.raises(DataError, match="corrupt") as e:
        load_cifar100(tmp_path)
    assert str(path) in str(e.value) and "CIFAR-100" in str(e.value)


class _Evil:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (str(self.target),))


def test_cifar100_pickle_runs_no_code(tmp_path):
    write_cifar100(tmp_path, n_test=20)
    target = tmp_path / "pwned"
    (tmp_path / cifar100.FOLDER / "test").write_bytes(pickle.dumps({b"data": _Evil(target)}, protocol=2))
    with pytest.raises(DataError, match="is not allowed"):
        load_cifar100(tmp_path)
    assert not target.exists()


def test_cifar100_wrong_labels_are_named(tmp_path):
    write_cifar100(tmp_path, n_test=20)
    path = tmp_path / cifar100.FOLDER / "test"
    d = pickle.loads(path.read_bytes(), encoding="bytes")
    d[b"fine_labels"] = [100] * 20
    path.write_bytes(pickle.dumps(d, protocol=2))
    with pytest.raises(DataError, match=r"labels must be in 0\.\.99") as e:
        load_cifar100(tmp_path)
    assert str(path) in str(e.value)


def test_cifar100_missing_says_where_and_how(tmp_path):
    with pytest.raises(DataError) as e:
        load_cifar100(tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "cifar-100-python") in msg and "data.download=true" in msg
    assert cifar100.CIFAR100_URL in msg and cifar100.CIFAR100_MD5 in msg


def _c100_archive(tmp_path: Path) -> bytes:
    src = tmp_path / "src"
    write_cifar100(src, n_test=20)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src / cifar100.FOLDER, arcname=cifar100.FOLDER)
    return buf.getvalue()


def test_cifar100_download_is_md5_checked(tmp_path, monkeypatch):
    payload = _c100_archive(tmp_path)
    calls = []

    def opener(url, timeout=None):
        calls.append(url)
        return io.BytesIO(payload)

    monkeypatch.setattr(cifar100, "_urlopen", opener)
    with pytest.raises(DataError, match="md5 .* != expected"):
        load_cifar100(tmp_path / "d1", download=True)
    assert sorted(p.name for p in (tmp_path / "d1").iterdir()) == []  # nothing kept
    monkeypatch.setattr(cifar100, "CIFAR100_MD5", hashlib.md5(payload).hexdigest())
    train, test = load_cifar100(tmp_path / "d2", download=True)
    assert calls[-1] == cifar100.CIFAR100_URL and len(test.y) == 20
    assert sorted(p.name for p in (tmp_path / "d2").iterdir()) == [cifar100.FOLDER]


# ---- ImageNet16-120: ImageNet16/{train_data_batch_1..10, val_data} -----------------------------


def _labels(n: int, seed: int) -> np.ndarray:
    """1-based labels 1..1000, about a third of them kept (<= 120)."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random(n) < 0.35, rng.integers(1, 121, n), rng.integers(121, 1001, n))


def write_imagenet16(root: Path, per_batch: int = 12, n_val_kept: int = 6000, n_val_dropped: int = 700):
    """ROOT/ImageNet16 as the downsampled-ImageNet release has it: Python 3 pickles, str keys."""
    folder = root / imagenet16.FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    train_x, train_y = [], []
    for i, name in enumerate(imagenet16.TRAIN_FILES):
        y = _labels(per_batch, i)
        data = _stamped(per_batch, 768, start=1000 * i)
        d = {"data": data, "labels": y.tolist(), "mean": data.mean(axis=0)}
        (folder / name).write_bytes(pickle.dumps(d))
        keep = y <= 120
        train_x.append(data[keep].reshape(-1, 3, 16, 16))
        train_y.append(y[keep] - 1)
    # validation: the kept images carry their position among the kept ones, the others 65535
    n = n_val_kept + n_val_dropped
    rng = np.random.default_rng(9)
    kept = np.zeros(n, dtype=bool)
    kept[rng.choice(n, n_val_kept, replace=False)] = True
    y = np.where(kept, rng.integers(1, 121, n), rng.integers(121, 1001, n))
    data = rng.integers(0, 256, (n, 768), dtype=np.uint8)
    data[:, 0], data[:, 1] = 255, 255
    k = np.arange(n_val_kept)
    data[kept, 0], data[kept, 1] = k % 256, k // 256
    (folder / "val_data").write_bytes(pickle.dumps({"data": data, "labels": y.tolist()}))
    return {"train_x": np.concatenate(train_x), "train_y": np.concatenate(train_y), "val_y": y[kept] - 1}


@pytest.fixture(scope="module")
def in16_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("in16")
    return root, write_imagenet16(root)


def test_imagenet16_keeps_labels_up_to_120_shifted_to_zero(in16_root):
    root, want = in16_root
    train, valid = load_imagenet16_120(root)
    assert train.x.shape[1:] == (3, 16, 16) and train.x.dtype == np.uint8
    np.testing.assert_array_equal(train.x, want["train_x"])  # file order, batch 1..10
    np.testing.assert_array_equal(train.y, want["train_y"])
    assert valid.x.shape == (6000, 3, 16, 16) and valid.y.min() >= 0 and valid.y.max() <= 119
    np.testing.assert_array_equal(valid.y, want["val_y"])
    np.testing.assert_array_equal(position(valid.x), np.arange(6000))  # kept images in file order


def test_imagenet16_missing_files_say_where_and_that_there_is_no_download(tmp_path):
    with pytest.raises(DataError) as e:
        load_imagenet16_120(tmp_path, download=True)
    msg = str(e.value)
    assert str(tmp_path / "ImageNet16") in msg and "train_data_batch_10" in msg and "val_data" in msg
    assert "by hand" in msg
    write_imagenet16(tmp_path, per_batch=4, n_val_kept=10, n_val_dropped=2)
    (tmp_path / "ImageNet16" / "train_data_batch_7").unlink()
    with pytest.raises(DataError, match="lacks train_data_batch_7"):
        load_imagenet16_120(tmp_path)


def test_imagenet16_truncated_file_is_named(tmp_path):
    write_imagenet16(tmp_path, per_batch=4, n_val_kept=10, n_val_dropped=2)
    path = tmp_path / "ImageNet16" / "train_data_batch_3"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="corrupt") as e:
        load_imagenet16_120(tmp_path)
    assert str(path) in str(e.value) and "ImageNet16-120" in str(e.value)


def test_imagenet16_labels_must_be_one_based(tmp_path):
    write_imagenet16(tmp_path, per_batch=4, n_val_kept=10, n_val_dropped=2)
    path = tmp_path / "ImageNet16" / "val_data"
    d = pickle.loads(path.read_bytes())
    d["labels"] = [0] * len(d["labels"])
    path.write_bytes(pickle.dumps(d))
    with pytest.raises(DataError, match=r"labels must be in 1\.\.1000"):
        load_imagenet16_120(tmp_path)


# ---- NAS-Bench-201's x-valid / x-test halves ---------------------------------------------------


def official_split_text(xvalid: list[int], xtest: list[int]) -> str:
    """The official file's structure: a JSON object of ["int", [quoted indices]] lists."""
    q = lambda v: ", ".join(f'"{i}"' for i in v)  # noqa: E731
    return (
        f'{{\n  "xvalid"             : ["int"   , [{q(xvalid)}]],\n'
        f'  "xtest"              : ["int"   , [{q(xtest)}]]\n}}'
    )


def test_split_file_in_the_official_structure_is_parsed():
    halves = nb201_splits.parse_split_file(official_split_text([1, 3, 4], [0, 2, 5]), "f.txt")
    assert {k: v.tolist() for k, v in halves.items()} == {"x-valid": [1, 3, 4], "x-test": [0, 2, 5]}
    mask = nb201_splits.check_halves(halves, 6, "f.txt")
    assert mask.tolist() == [False, True, False, True, True, False]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON"),
        ('{"xvalid": ["int", ["1"]]}', "expected keys xvalid, xtest"),
        ('{"xvalid": ["str", ["1"]], "xtest": ["int", ["0"]]}', r'"xvalid" must be \["int", \[indices\]\]'),
        ('{"xvalid": ["int", ["a"]], "xtest": ["int", ["0"]]}', "non-integer index"),
    ],
)
def test_bad_split_files_are_errors(text, message):
    with pytest.raises(DataError, match=message):
        nb201_splits.parse_split_file(text, "f.txt")


@pytest.mark.parametrize(
    ("xvalid", "xtest", "message"),
    [
        ([0, 1], [1, 2, 3], "1 in both"),
        ([0, 1], [2], "1 in neither"),
        ([0, 1, 9], [2, 3], "out of 0..3"),
        ([0, 0, 1], [2, 3], "repeats an index"),
    ],
)
def test_halves_must_split_the_set(xvalid, xtest, message):
    halves = nb201_splits.parse_split_file(official_split_text(xvalid, xtest), "f.txt")
    with pytest.raises(DataError, match=message):
        nb201_splits.check_halves(halves, 4, "f.txt")


def test_table_made_from_official_files_round_trips(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    files = {}
    for name, (_, n) in nb201_splits.OFFICIAL.items():
        perm = rng.permutation(n)
        files[name] = tmp_path / f"{name}.txt"
        files[name].write_text(official_split_text(sorted(perm[: n // 2]), sorted(perm[n // 2 :])))
    out = tmp_path / "table.npz"
    assert nb201_splits.main([str(files["cifar100"]), str(files["imagenet16_120"]), str(out)]) == 0
    monkeypatch.setattr(nb201_splits, "TABLE", out)
    nb201_splits._table.cache_clear()
    try:
        for name, (_, n) in nb201_splits.OFFICIAL.items():
            want = nb201_splits.parse_split_file(files[name].read_text(), "x")
            got = nb201_splits.nb201_halves(name, n, "here")
            assert {k: v.tolist() for k, v in got.items()} == {k: sorted(v.tolist()) for k, v in want.items()}
        meta = nb201_splits.source()
        assert meta["commit"] == nb201_splits.SOURCE_COMMIT and meta["files"]["cifar100"]["path"].endswith(
            "cifar100-test-split.txt"
        )
    finally:
        nb201_splits._table.cache_clear()


def test_shipped_halves_are_the_official_ones():
    """Pinned from the official files (D-X-Y/AutoDL-Projects a84f483): sizes, the first indices,
    and a digest of each half, so a changed table cannot pass unnoticed."""
    c = nb201_splits.nb201_halves("cifar100", 10_000, "t")
    i = nb201_splits.nb201_halves("imagenet16_120", 6_000, "t")
    sizes = [len(c["x-valid"]), len(c["x-test"]), len(i["x-valid"]), len(i["x-test"])]
    assert sizes == [5000, 5000, 3000, 3000]
    assert c["x-valid"][:8].tolist() == [1, 3, 4, 5, 8, 10, 13, 14]
    assert c["x-test"][:8].tolist() == [0, 2, 6, 7, 9, 11, 12, 17]
    assert c["x-valid"][-3:].tolist() == [9996, 9997, 9999]
    assert i["x-valid"][:8].tolist() == [1, 2, 3, 6, 7, 8, 9, 12]
    assert i["x-test"][:8].tolist() == [0, 4, 5, 10, 11, 13, 14, 15]
    assert i["x-valid"][-3:].tolist() == [5997, 5998, 5999]
    meta = nb201_splits.source()
    assert meta["repository"] == "https://github.com/D-X-Y/AutoDL-Projects"
    assert meta["files"]["cifar100"]["chars"] == 78_970 and meta["files"]["imagenet16_120"]["chars"] == 46_970
    with pytest.raises(DataError, match="index the 10,000 official images, but 20 were read"):
        nb201_splits.nb201_halves("cifar100", 20, "t")


def test_eval_split_x_test_is_the_x_test_half(c100_root):
    root, _ = c100_root
    s = load_splits(DataConfig(name="cifar100", root=str(root), eval_split="x-test"), seed=0)
    halves = nb201_splits.nb201_halves("cifar100", 10_000, "t")
    for half in ("x-test", "x-valid"):
        np.testing.assert_array_equal(position(s.eval_split(half).x), halves[half])
    assert len(s.eval_split("test").y) == 10_000
    with pytest.raises(DataError, match="has no NAS-Bench-201 x-valid/x-test halves"):
        load_splits(DataConfig(name="digits", eval_split="x-valid"), seed=0)


def test_dataset_info_follows_nas_bench_201_training():
    c, i = DATASETS["cifar100"], DATASETS["imagenet16_120"]
    assert (c.num_classes, c.image_size, c.pad, c.flip) == (100, 32, 4, True)
    assert (i.num_classes, i.image_size, i.pad, i.flip) == (120, 16, 2, True)
    assert c.mean == pytest.approx([129.3 / 255, 124.1 / 255, 112.4 / 255])
    assert c.std == pytest.approx([68.2 / 255, 65.4 / 255, 70.4 / 255])
    assert i.mean == pytest.approx([122.68 / 255, 116.66 / 255, 104.01 / 255])
    assert i.std == pytest.approx([63.22 / 255, 61.26 / 255, 65.09 / 255])
    from typing import get_args

    from wsnas.config import DataConfig as DC

    assert get_args(DC.model_fields["eval_split"].annotation) == EVAL_SPLITS


# ---- config: the metric follows data.name; a mismatch is an error unless forced ----------------


@pytest.mark.parametrize("data", ["cifar10", "cifar100", "imagenet16_120"])
def test_default_metric_follows_data_name(data):
    split = "test" if data == "cifar10" else "x-test"
    cfg = check_config(load_config(None, [f"data.name={data}", f"data.eval_split={split}"]))
    space = get_space("nb201")
    assert space.loader.resolve_metric(bench_metric(space, cfg), data) == METRICS[data]


@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        (
            ["data.name=cifar100", "bench.metric=cifar10/ori-test", "data.eval_split=test"],
            ["data.name=cifar100", "cifar10/ori-test was measured on cifar10", "bench.allow_metric_mismatch"],
        ),
        (["data.name=cifar100"], ["data.eval_split=test", "cifar100/x-test", "set data.eval_split=x-test"]),
        (
            ["data.name=imagenet16_120", "data.eval_split=x-test", "bench.metric=ImageNet16-120/x-valid"],
            ["set data.eval_split=x-valid"],
        ),
        (["bench.metric=cifar100_test"], ["data.name=cifar10", "measured on cifar100"]),
        (["data.eval_split=x-test"], ["key 'data.eval_split'", "data.name=cifar10 has no NAS-Bench-201"]),
        (
            ["space.name=nb101", "mapping.ops_on=nodes", "data.name=cifar100"],
            ["measured on cifar10", "NASBench-101's ground truth is on cifar10"],
        ),
    ],
)
def test_metric_data_mismatch_is_a_config_error(overrides, needles):
    with pytest.raises(ConfigError) as e:
        check_config(load_config(None, overrides), "cfg.yaml")
    for needle in needles:
        assert needle in str(e.value)


def test_mismatch_can_be_forced_and_is_said():
    cfg = load_config(
        None, ["data.name=cifar100", "bench.metric=cifar10/ori-test", "bench.allow_metric_mismatch=true"]
    )
    with pytest.warns(UserWarning, match="allow_metric_mismatch=true: .*cifar10/ori-test"):
        check_config(cfg)
    plain = load_config(None, ["data.name=cifar100", "bench.metric=cifar10/ori-test"])
    assert cfg.hash() == plain.hash()  # waiving a check does not make another experiment


def test_shipped_per_dataset_configs_check():
    root = Path(__file__).resolve().parents[2] / "src" / "wsnas" / "configs"
    for name, data in (("nb201-cifar100.yaml", "cifar100"), ("nb201-imagenet16.yaml", "imagenet16_120")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cfg = check_config(load_config(root / name))
        assert cfg.data.name == data and cfg.data.eval_split == "x-test"
        assert get_space("nb201").loader.resolve_metric(cfg.bench.metric) == METRICS[data]


# ---- params / FLOPs per data set against the real NATS records ---------------------------------


@pytest.mark.filterwarnings("ignore:.*ground truth for 3 of the 15625")
@pytest.mark.parametrize("data", list(METRICS))
def test_params_and_flops_match_the_nats_records(shared_data, data):
    from wsnas.spaces.nb201.gt_nats import read_nats_folder

    folder = shared_data / "nb201" / "NATS-tss-v1_0-3ffb9-simple"
    bench = read_nats_folder(folder, METRICS[data], "200")
    space = get_space("nb201")
    for index, arch in ARCHS.items():
        row = int(np.flatnonzero(bench.index == index)[0])
        facts = space.arch_facts(space.parse(arch), data=data)
        assert facts["params_m"] == pytest.approx(float(bench.params[row]), abs=1e-6), (index, data)
        assert facts["flops_m"] == pytest.approx(float(bench.flops[row]), abs=1e-5), (index, data)


def test_arch_info_reports_the_metric_data_sets_network(capsys):
    assert (
        main(
            [
                "arch",
                "info",
                "nb201",
                ARCHS[11],
                "--metric",
                "cifar100/x-test",
                "--json",
                "--cache-dir",
                "/nonexistent-wsnas-cache",
            ]
        )
        == 0
    )
    rec = json.loads(capsys.readouterr().out)
    assert (rec["params_m"], rec["flops_m"], rec["data"]) == (0.808276, 113.95722, "cifar100")
    assert (
        main(
            [
                "arch",
                "info",
                "nb201",
                ARCHS[11],
                "--data",
                "imagenet16_120",
                "--json",
                "--cache-dir",
                "/nonexistent-wsnas-cache",
            ]
        )
        == 0
    )
    rec = json.loads(capsys.readouterr().out)
    assert (rec["params_m"], rec["flops_m"]) == (0.809576, 28.49548)


def test_networks_take_the_data_sets_classes_and_size():
    import torch

    from wsnas.config import LowFidelityConfig, MappingConfig

    space = get_space("nb201")
    net = space.supernet(MappingConfig(), LowFidelityConfig(channels=4, cells_per_stage=1), num_classes=120)
    arch = space.parse(ARCHS[11])
    assert net(torch.zeros(2, 3, 16, 16), arch).shape == (2, 120)
    solo = space.standalone(arch, channels=4, cells=1, num_classes=100)
    assert solo(torch.zeros(2, 3, 32, 32)).shape[-1] == 100


# ---- end to end: a CPU-sized run on each new data set, scored on the metric's half -------------


def write_gt_csv(path: Path, n: int = 12) -> Path:
    """A CSV export in the NB201 layout: index, arch_str, the three data sets' test columns."""
    space = get_space("nb201")
    rng = np.random.default_rng(1)
    lines = ["index,arch_str,cifar10_test,cifar100_test,imagenet16_120_test"]
    for i in range(n):
        arch = space.format(tuple(int(v) for v in np.unravel_index(i * 1301 % 15625, (5,) * 6)))
        a, b, c = rng.uniform(10, 90, 3)
        lines.append(f"{i},{arch},{a:.2f},{b:.2f},{c:.2f}")
    path.write_text("\n".join(lines) + "\n")
    return path


E2E = [
    "lowfi.channels=4",
    "lowfi.cells_per_stage=1",
    "protocol.epochs=1",
    "protocol.batch_size=16",
    "eval.pool_size=6",
    "eval.num_images=48",
    "eval.batch_size=48",
    "runtime.progress=false",
    "runtime.threads=1",
    "runtime.device=cpu",
]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*ground truth for 12 of the 15625")
@pytest.mark.parametrize(
    ("config", "fixture"), [("nb201-cifar100.yaml", "c100_root"), ("nb201-imagenet16.yaml", "in16_root")]
)
def test_end_to_end_on_official_structure_files(tmp_path, request, config, fixture):
    from wsnas.engine.rundir import RunDir
    from wsnas.trainers.supernet_trainer import Trainer, train

    root, _ = request.getfixturevalue(fixture)
    args = [
        f"data.root={root}",
        f"bench.source={write_gt_csv(tmp_path / 'gt.csv')}",
        f"bench.cache_dir={tmp_path / 'cache'}",
        f"out_dir={tmp_path / 'runs'}",
        *E2E,
    ]
    cfg = load_config(Path(__file__).resolve().parents[2] / "src" / "wsnas" / "configs" / config, args)
    data = cfg.data.name
    summary = train(cfg)
    assert summary["status"] == "finished" and summary["final"]["eval_images"] == 48
    assert summary["benchmark"]["metric"] == METRICS[data]
    assert summary["data"] == {"name": data, "eval_split": "x-test"}
    run = Path(summary["run_dir"])
    assert f"name: {data}" in (run / "config.yaml").read_text()  # the report labels runs by it
    # the super-net was scored on the first 48 images of NAS-Bench-201's x-test half
    trainer = Trainer(cfg, RunDir(tmp_path / "inspect"))
    seen = np.concatenate([x.numpy() for x, _ in trainer.eval_batches])
    info = DATASETS[data]
    mean, std = np.array(info.mean).reshape(1, 3, 1, 1), np.array(info.std).reshape(1, 3, 1, 1)
    pixels = np.rint((seen * std + mean) * 255).astype(np.int64)
    n_test = 10_000 if data == "cifar100" else 6_000
    want = nb201_splits.nb201_halves(data, n_test, "t")["x-test"][:48]
    np.testing.assert_array_equal(pixels[:, 0, 0, 0] + 256 * pixels[:, 0, 0, 1], want)
    assert seen.shape[1:] == (3, info.image_size, info.image_size)
    assert trainer.model.classifier.out_features == info.num_classes


# ---- studies: a sweep and a report per data set ------------------------------------------------


def test_a_spec_can_vary_the_data_set_and_runs_stay_separate_settings(tmp_path):
    from wsnas.sweep import Planner, parse_spec

    spec = parse_spec(
        {
            "base": {"space": {"name": "nb201"}, "protocol": {"epochs": 1}},
            "overrides": ["eval.pool_size=12"],
            "factors": {
                "data.name": [
                    "cifar10",
                    {"data.name": "cifar100", "data.eval_split": "x-test"},
                    {"data.name": "imagenet16_120", "data.eval_split": "x-test"},
                ]
            },
            "seeds": [0],
            "mode": "one-at-a-time",
        }
    )
    runs = Planner(spec, None, tmp_path).one_at_a_time()
    assert sorted(r.cfg.data.name for r in runs) == ["cifar10", "cifar100", "imagenet16_120"]
    assert len({r.cfg.hash() for r in runs}) == 3
    space = get_space("nb201")
    for r in runs:  # each run is scored against its own data set's ground truth
        check_config(r.cfg)
        metric = space.loader.resolve_metric(bench_metric(space, r.cfg), r.cfg.data.name)
        assert metric == METRICS[r.cfg.data.name]


def test_report_keeps_data_sets_apart(tmp_path):
    from report_fixtures import read_csv, write_run
    from wsnas.report import write_report

    root = tmp_path / "runs"
    for seed in (0, 1):
        write_run(root, f"c10-s{seed}", [], seed, 90.0 + seed)
        write_run(root, f"c10-fair-s{seed}", ["sampler.name=fairnas"], seed, 91.0)
        write_run(root, f"c100-s{seed}", ["data.name=cifar100", "data.eval_split=x-test"], seed, 70.0 + seed)
        write_run(
            root,
            f"c100-fair-s{seed}",
            ["data.name=cifar100", "data.eval_split=x-test", "sampler.name=fairnas"],
            seed,
            72.0,
        )
    write_report([root], tmp_path / "rep")
    settings = read_csv(tmp_path / "rep" / "tables" / "settings.csv")
    scopes = sorted({(r["space"], r["data"]) for r in settings})
    assert scopes == [("nb201", "cifar10"), ("nb201", "cifar100")]
    rows = {(r["factor"], r["value"]): r for r in read_csv(tmp_path / "rep" / "tables" / "table_factors.csv")}
    fair = rows[("sampler.name", "fairnas")]  # one column per data set, never their average
    assert float(fair["nb201_cifar10_final_acc_mean"]) == pytest.approx(91.0)
    assert float(fair["nb201_cifar100_final_acc_mean"]) == pytest.approx(72.0)
    md = (tmp_path / "rep" / "tables" / "table_factors.md").read_text()
    assert "NASBench-201 (cifar100)" in md and "NASBench-201 (cifar10)" in md


def test_facts_on_a_data_set_only_where_the_space_has_that_network():
    nb201, mini = get_space("nb201"), get_space("nb201_mini")
    arch = nb201.parse(ARCHS[284])
    assert nb201.arch_facts_on(arch, "imagenet16_120") == {"params_m": 0.108456, "flops_m": 2.93644}
    cell = mini.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|")
    assert mini.arch_facts_on(cell, "digits") == mini.arch_facts(cell)
    assert mini.arch_facts_on(cell, "cifar100") is None  # a built table there gets NaN FLOPs, not digits'
