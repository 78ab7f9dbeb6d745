"""scikit-learn's digits as a data set: the fixed split, its statistics, the loader options."""

import numpy as np
import pytest
import torch

from wsnas.config import DataConfig
from wsnas.core.errors import DataError
from wsnas.data import DATASETS, DeviceLoader, dataset_info, load_splits
from wsnas.data.digits import DIGITS_MEAN, DIGITS_STD, load_digits_splits

pytest.importorskip("sklearn")


def test_fixed_split_sizes_and_classes():
    train, test = load_digits_splits()
    assert train.x.shape == (1198, 3, 8, 8) and test.x.shape == (599, 3, 8, 8)
    assert train.x.dtype == np.uint8 and train.y.dtype == np.int64
    assert set(np.unique(test.y)) == set(range(10))
    assert np.array_equal(train.x[:, 0], train.x[:, 2])  # grey plane repeated
    assert train.x.max() == 255 and train.x.min() == 0
    from sklearn.datasets import load_digits

    target = load_digits().target
    assert np.array_equal(test.y, target[2::3])  # image i is a test image iff i % 3 == 2


def test_normalisation_constants_match_the_training_images():
    train, _ = load_digits_splits()
    x = train.x.astype(np.float64) / 255.0
    assert x.mean() == pytest.approx(DIGITS_MEAN[0], abs=1e-4)
    assert x.std() == pytest.approx(DIGITS_STD[0], abs=1e-4)


def test_load_splits_digits_honours_portion_and_valid():
    s = load_splits(DataConfig(name="digits", valid_size=98, train_portion=0.5), seed=3)
    assert len(s.valid.y) == 98 and len(s.train.y) == 550 and len(s.test.y) == 599
    assert s.info.name == "digits" and s.info.num_classes == 10 and not s.info.flip
    loader = s.loader(s.train, 64, train=True, device=torch.device("cpu"), seed=0)
    x, y = next(iter(loader))
    assert x.shape == (64, 3, 8, 8) and abs(float(x.mean())) < 0.5


def test_unknown_dataset_is_named():
    with pytest.raises(DataError, match="known data sets are cifar10, cifar100, imagenet16_120, digits"):
        dataset_info("mnist")
    assert set(DATASETS) == {"cifar10", "cifar100", "imagenet16_120", "digits"}


def test_loader_without_flip_only_crops():
    x = np.arange(4 * 3 * 8 * 8, dtype=np.int64).reshape(4, 3, 8, 8) % 251
    x = x.astype(np.uint8)
    y = np.zeros(4, dtype=np.int64)

    def batch(flip):
        ld = DeviceLoader(x, y, 4, augment=True, pad=0, flip=flip, mean=(0, 0, 0), std=(1, 1, 1), seed=1)
        return next(iter(ld))[0] * 255.0

    no_flip = batch(False)
    assert torch.allclose(no_flip, torch.as_tensor(x, dtype=torch.float32))  # pad 0: crops are identity
    flipped = batch(True)
    assert not torch.allclose(flipped, no_flip)  # seed 1 flips some image
