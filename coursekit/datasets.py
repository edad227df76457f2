"""Offline data sets the graders, the kit's tests and the benchmarks share (trusted side only).

Everything is built from data that ships inside scikit-learn, so nothing downloads, and from a
seed, so the same call gives the same tensors on every machine. Importing scikit-learn costs
about two seconds: the raw arrays are loaded once per process and kept.
"""

import functools

import torch


@functools.lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    features = torch.as_tensor(digits.data, dtype=torch.float32) / 16.0     # pixels 0..16 -> 0..1
    return features, torch.as_tensor(digits.target, dtype=torch.int64)


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


def sparse_linear_regression(seed, *, num_features=200, train_size=20, val_size=100, noise=0.01):
    """d2l's high-dimensional linear regression, where weight decay visibly helps.

    y = 0.05 + sum_i 0.01 * x_i + N(0, noise^2), with x ~ N(0, 1) in num_features dimensions;
    far fewer training samples than features, so plain least squares overfits.
    Returns ((X_train, y_train), (X_val, y_val)): X float32 (N, num_features), y float32 (N,).
    """
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(train_size + val_size, num_features, generator=generator)
    y = 0.05 + 0.01 * X.sum(dim=1) + noise * torch.randn(train_size + val_size, generator=generator)
    return (X[:train_size], y[:train_size]), (X[train_size:], y[train_size:])
