"""FID, KID and P-IDS/U-IDS from feature matrices (the math of DistributionMetric).

* FID (Heusel et al. 2017): ``|mu_r - mu_f|^2 + tr(S_r) + tr(S_f) - 2 tr((S_r S_f)^(1/2))`` with
  the sample means and unbiased covariances. ``tr((S_r S_f)^(1/2))`` is the sum of the square
  roots of the eigenvalues of the symmetric ``S_r^(1/2) S_f S_r^(1/2)`` (same eigenvalues as
  ``S_r S_f``), or, with fewer images than dimensions, the nuclear norm of the (N, M) matrix
  ``X_r X_f^T / sqrt((N-1)(M-1))`` of the centred features (the same number, exactly, and
  stable for the singular covariances of small sets).
* KID (Binkowski et al. 2018): the unbiased MMD^2 with the cubic polynomial kernel
  ``k(x, y) = (x.y / d + 1)^3``, averaged over ``subsets`` random subsets of ``subset_size``
  images each, drawn without replacement by ``numpy.random.RandomState(seed)`` (torch-fidelity's
  estimator and defaults: 100 subsets of 1000, seed 2020).
* P-IDS / U-IDS (Zhao et al. 2021, CoModGAN): a linear SVM (``sklearn.svm.LinearSVC(dual=False)``)
  fit to separate real (label 1) from fake (label 0) features; U-IDS is its misclassification
  rate ``(miss_real + miss_fake) / 2``; P-IDS the fraction of pairs ``(real_i, fake_i)`` whose
  fake gets the larger decision value (needs paired features).

All inputs are (N, D) arrays; the computation is float64.
"""
from typing import Dict

import numpy as np

from sair_toolbox.utils.errors import ConfigError, ShapeError


def _check(real: np.ndarray, fake: np.ndarray, minimum: int, what: str) -> tuple:
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ShapeError(f'{what} needs two (N, D) feature arrays of equal D, got '
                         f'{real.shape} and {fake.shape}')
    if min(len(real), len(fake)) < minimum:
        raise ShapeError(f'{what} needs at least {minimum} images per side, got '
                         f'{len(real)} and {len(fake)}')
    return real, fake


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """Frechet distance between Gaussians fit to (N, D) and (M, D) features (N, M >= 2)."""
    real, fake = _check(real, fake, 2, 'FID')
    mu_r, mu_f = real.mean(0), fake.mean(0)
    x_r, x_f = real - mu_r, fake - mu_f
    n, m, d = len(real), len(fake), real.shape[1]
    tr_r = (x_r ** 2).sum() / (n - 1)
    tr_f = (x_f ** 2).sum() / (m - 1)
    if min(n, m) < d:
        # S_r S_f = X_r^T (X_r X_f^T) X_f / ((n-1)(m-1)) has the nonzero eigenvalues of A A^T,
        # A = X_r X_f^T / sqrt((n-1)(m-1)): tr (S_r S_f)^(1/2) is A's nuclear norm (exact, and
        # an (N, M) problem instead of a (D, D) one).
        a = x_r @ x_f.T / np.sqrt((n - 1) * (m - 1))
        tr_covmean = np.linalg.svd(a, compute_uv=False).sum()
    else:
        s_r = x_r.T @ x_r / (n - 1)
        s_f = x_f.T @ x_f / (m - 1)
        w, v = np.linalg.eigh(s_r)
        root_r = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
        inner = root_r @ s_f @ root_r
        tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)).sum()
    diff = mu_r - mu_f
    return float(diff @ diff + tr_r + tr_f - 2 * tr_covmean)


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    m = len(x)
    sum_xx = k_xx.sum() - np.trace(k_xx)
    sum_yy = k_yy.sum() - np.trace(k_yy)
    return float((sum_xx + sum_yy) / (m * (m - 1)) - 2 * k_xy.sum() / (m * m))


def kid_from_features(real: np.ndarray, fake: np.ndarray, subsets: int = 100,
                      subset_size: int = 1000, seed: int = 2020) -> Dict[str, float]:
    """KID mean and standard deviation over subsets.

    ``subset_size`` is capped at the smaller number of images (which must be >= 2).

    Returns:
        ``{'mean': ..., 'std': ...}``.
    """
    real, fake = _check(real, fake, 2, 'KID')
    if subsets < 1 or subset_size < 2:
        raise ConfigError(f'KID needs subsets >= 1 and subset_size >= 2, got {subsets}, '
                          f'{subset_size}')
    size = min(subset_size, len(real), len(fake))
    rng = np.random.RandomState(seed)
    mmds = np.empty(subsets)
    for i in range(subsets):
        x = real[rng.choice(len(real), size, replace=False)]
        y = fake[rng.choice(len(fake), size, replace=False)]
        mmds[i] = _mmd2_unbiased(x, y)
    return dict(mean=float(mmds.mean()), std=float(mmds.std()))


def ids_from_features(real: np.ndarray, fake: np.ndarray) -> Dict[str, float]:
    """P-IDS and U-IDS of paired (N, D) features (row ``i`` of each is the same image).

    Returns:
        ``{'P-IDS': ..., 'U-IDS': ...}``, both in [0, 1] (0.5 = indistinguishable).
    """
    real, fake = _check(real, fake, 1, 'P-IDS/U-IDS')
    if len(real) != len(fake):
        raise ShapeError(f'P-IDS needs paired features, got {len(real)} real and {len(fake)} '
                         'fake')
    from sklearn.svm import LinearSVC
    svm = LinearSVC(dual=False)
    svm.fit(np.concatenate([real, fake]), np.array([1] * len(real) + [0] * len(fake)))
    real_out = svm.decision_function(real)
    fake_out = svm.decision_function(fake)
    u_ids = ((real_out <= 0).mean() + (fake_out > 0).mean()) / 2
    p_ids = (fake_out > real_out).mean()
    return {'P-IDS': float(p_ids), 'U-IDS': float(u_ids)}


__all__ = ['fid_from_features', 'kid_from_features', 'ids_from_features']
