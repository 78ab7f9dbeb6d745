"""scikit-learn's digits: a real 10-class image set that ships inside a dependency.

1,797 greyscale 8x8 images of hand-written digits (UCI optdigits test set, pixel
values 0..16). They are served like CIFAR-10 (uint8 NCHW, 3 channels: the grey
plane repeated) so every space's network takes them unchanged. The fixed split
is by position, independent of any RNG: image i is a test image when i % 3 == 2
(599 images, 54-63 per class), a training image otherwise (1,198). The mini
benchmark (space nb201_mini) is defined on this split.
"""

from __future__ import annotations

import numpy as np

from wsnas.core.errors import DataError
from wsnas.data.cifar import Split

NUM_CLASSES = 10
IMAGE_SHAPE = (3, 8, 8)
TEST_EVERY = 3
"""Image i is in the test split when i % TEST_EVERY == TEST_EVERY - 1."""
DIGITS_MEAN = (0.3053,) * 3
"""Mean of the 1,198 training images, pixels scaled to [0, 1] (tests recompute it)."""
DIGITS_STD = (0.3761,) * 3


def load_digits_splits() -> tuple[Split, Split]:
    """(train, test) of the fixed split; DataError if scikit-learn is missing."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        raise DataError("data.name=digits needs scikit-learn (`pip install scikit-learn`)") from None
    bunch = load_digits()
    grey = np.rint(np.asarray(bunch.images, dtype=np.float64) * (255.0 / 16.0)).astype(np.uint8)
    x = np.ascontiguousarray(np.repeat(grey[:, None], 3, axis=1))
    y = np.asarray(bunch.target, dtype=np.int64)
    test = np.arange(len(y)) % TEST_EVERY == TEST_EVERY - 1
    return Split(x[~test], y[~test]), Split(x[test], y[test])
