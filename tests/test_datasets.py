"""The offline data sets are scikit-learn's own data, and the same for the same seed."""

import torch
from sklearn.datasets import load_digits

from coursekit import datasets


def test_the_digits_are_scikit_learns_digits_scaled_to_one():
    features, labels = datasets._digits()
    digits = load_digits()
    assert datasets._bundled_digits_csv() is not None      # read directly, without importing scikit-learn
    assert torch.equal(features, torch.as_tensor(digits.data, dtype=torch.float32) / 16.0)
    assert torch.equal(labels, torch.as_tensor(digits.target, dtype=torch.int64))


def test_noisy_digits_are_fixed_by_the_seed_and_flip_a_fifth_of_the_training_labels():
    (X, y), (X_val, y_val) = datasets.noisy_digits(3)
    (X2, y2), _ = datasets.noisy_digits(3)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    assert X.shape == (200, 64) and X_val.shape == (1597, 64)
    features, labels = datasets._digits()
    rows = [int((features == x).all(dim=1).nonzero()[0]) for x in X]
    assert (labels[rows] != y).sum() == 40
    _, (X_small, y_small) = datasets.noisy_digits(3, val_size=400)
    assert torch.equal(X_small, X_val[:400]) and torch.equal(y_small, y_val[:400])
