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


def test_sparse_linear_regression_is_fixed_by_the_seed_and_follows_its_formula():
    (X, y), (X_val, y_val) = datasets.sparse_linear_regression(4)
    (X2, y2), (X_val2, y_val2) = datasets.sparse_linear_regression(4)
    assert torch.equal(X, X2) and torch.equal(y, y2) and torch.equal(X_val, X_val2) and torch.equal(y_val, y_val2)
    assert X.shape == (50, 100) and y.shape == (50,) and X_val.shape == (200, 100) and y_val.shape == (200,)
    assert X.dtype == y.dtype == torch.float32
    noise = torch.cat([y - 0.05 - 0.01 * X.sum(dim=1), y_val - 0.05 - 0.01 * X_val.sum(dim=1)])
    assert abs(noise.std().item() - 0.01) < 0.002 and abs(noise.mean().item()) < 0.002   # N(0, 0.01^2), 250 draws
    (X_other, _), _ = datasets.sparse_linear_regression(5)
    assert not torch.equal(X, X_other)
    (X_small, y_small), (X_val_small, _) = datasets.sparse_linear_regression(4, num_features=8, train_size=3,
                                                                             val_size=2, noise=0.0)
    assert X_small.shape == (3, 8) and X_val_small.shape == (2, 8)
    torch.testing.assert_close(y_small, 0.05 + 0.01 * X_small.sum(dim=1))
