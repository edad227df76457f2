"""Offline data sets the graders, the kit's tests and the benchmarks share (trusted side only).

Everything is built from data that ships inside scikit-learn, so nothing downloads, and from a
seed, so the same call gives the same tensors on every machine. The raw arrays are loaded once
per process and kept.
"""

import functools
import gzip
import importlib.util
from pathlib import Path

import numpy as np
import torch


def _bundled_digits_csv():
    """scikit-learn's copy of the digits (the file `load_digits` reads), found without importing it.

    Importing scikit-learn takes about two seconds, more than everything else a grading process
    loads besides torch; finding its folder takes none. None if this version keeps it elsewhere.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    return path if path.is_file() else None


@functools.lru_cache(maxsize=1)
def _digits():
    """All 1,797 digits: features float32 (1797, 64) in [0, 1], labels int64 (1797,)."""
    path = _bundled_digits_csv()
    if path is not None:
        with gzip.open(path, "rt") as stream:
            table = np.loadtxt(stream, delimiter=",")
        data, target = table[:, :-1], table[:, -1].astype(np.int64)
    else:
        from sklearn.datasets import load_digits
        digits = load_digits()
        data, target = digits.data, digits.target
    features = torch.as_tensor(data, dtype=torch.float32) / 16.0     # pixels 0..16 -> 0..1
    return features, torch.as_tensor(target, dtype=torch.int64)


def noisy_digits(seed, *, train_size=200, val_size=None, noise=0.2, num_classes=10):
    """scikit-learn's 8x8 digits, split at random into a small, noisy training set and the rest.

    Returns ((X_train, y_train), (X_val, y_val)): X float32 (N, 64) in [0, 1], y int64 (N,).
    A fraction `noise` of the training labels (exactly round(noise * train_size) of them) is
    replaced by a different class drawn uniformly ("symmetric" label noise); validation labels
    are clean. With 1,797 images: 200 for training, and the other 1,597 (or the first `val_size`
    of them, in the same random order) for validation.

    A small network memorises the wrong labels given enough epochs, which is the overfitting that
    dropout counters (shared/FACTS.md): the validation loss is where the difference shows.
    """
    features, labels = _digits()
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=generator)
    train = order[:train_size]
    val = order[train_size:] if val_size is None else order[train_size:train_size + val_size]
    y_train = labels[train].clone()
    flipped = torch.randperm(train_size, generator=generator)[:round(noise * train_size)]
    shift = torch.randint(1, num_classes, (len(flipped),), generator=generator)
    y_train[flipped] = (y_train[flipped] + shift) % num_classes
    return (features[train].clone(), y_train), (features[val].clone(), labels[val].clone())


def sparse_linear_regression(seed, *, num_features=100, train_size=50, val_size=200, noise=0.01):
    """d2l's high-dimensional linear regression, sized so that the right weight decay visibly helps.

    y = 0.05 + sum_i 0.01 * x_i + N(0, noise^2), with x ~ N(0, 1) in num_features dimensions;
    half as many training samples as features, so plain least squares overfits (its validation
    loss is many times that of predicting the training mean), yet enough of them that the best
    weight decay roughly halves the loss of predicting the mean, and a very large one falls back
    towards it: the validation loss against the decay is U-shaped.
    (d2l's own sizes, 200 features and 20 samples, leave so little to learn that the best decay
    is hardly better than predicting the mean.)
    Returns ((X_train, y_train), (X_val, y_val)): X float32 (N, num_features), y float32 (N,).
    """
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(train_size + val_size, num_features, generator=generator)
    y = 0.05 + 0.01 * X.sum(dim=1) + noise * torch.randn(train_size + val_size, generator=generator)
    return (X[:train_size], y[:train_size]), (X[train_size:], y[train_size:])


def _bundled_sample_images_folder():
    """scikit-learn's folder of sample photos (the one `load_sample_images` reads), found without
    importing it, as for the digits. None if this version keeps them elsewhere."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "images"
    return folder if (folder / "china.jpg").is_file() and (folder / "flower.jpg").is_file() else None


@functools.lru_cache(maxsize=1)
def _sample_photos():
    """scikit-learn's two sample photos, china.jpg then flower.jpg, as uint8 (2, 3, 427, 640)."""
    from PIL import Image

    folder = _bundled_sample_images_folder()
    if folder is None:
        from sklearn.datasets import load_sample_images
        arrays = load_sample_images().images
    else:
        arrays = []
        for name in ("china.jpg", "flower.jpg"):
            with Image.open(folder / name) as image:
                arrays.append(np.asarray(image.convert("RGB")))
    return torch.stack([torch.as_tensor(np.array(array)).permute(2, 0, 1) for array in arrays]).contiguous()


def sample_photos():
    """scikit-learn's two bundled photos (a Chinese temple, a flower): uint8 (2, 3, 427, 640)."""
    return _sample_photos().clone()


@functools.lru_cache(maxsize=4)
def _shrunk_photos(downscale):
    """The sample photos shrunk `downscale` times by average pooling: uint8 (2, 3, H, W); read only."""
    photos = _sample_photos().float()
    if downscale > 1:
        photos = torch.nn.functional.avg_pool2d(photos, downscale)
    return photos.round().to(torch.uint8)


PHOTO_DOWNSCALE = 4


def photo_crops(count, height, width, *, seed, downscale=PHOTO_DOWNSCALE):
    """`count` small RGB images cut from the sample photos: uint8 (count, 3, height, width).

    Each photo is first shrunk `downscale` times (average pooling, so a small crop still shows
    edges and texture rather than one flat colour); crops then alternate between the two photos,
    at positions drawn from `seed`.
    """
    photos = _shrunk_photos(downscale)
    generator = torch.Generator().manual_seed(seed)
    crops = []
    for index in range(count):
        photo = photos[index % len(photos)]
        top = int(torch.randint(photo.shape[1] - height + 1, (), generator=generator))
        left = int(torch.randint(photo.shape[2] - width + 1, (), generator=generator))
        crops.append(photo[:, top:top + height, left:left + width])
    return torch.stack(crops).contiguous()


def digit_images(count, *, seed):
    """`count` distinct digits drawn at random: float32 images (count, 1, 8, 8) in [0, 1] and
    their int64 labels (count,)."""
    features, labels = _digits()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))[:count]
    return features[order].reshape(count, 1, 8, 8).clone(), labels[order].clone()


def read_bundled_data():
    """Read the digits and the sample photos (as photo_crops uses them) now, into this process's caches.

    A grading server calls it once, so that every run it forks finds them read.
    """
    _digits()
    _shrunk_photos(PHOTO_DOWNSCALE)
