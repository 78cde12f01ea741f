"""Linear readout: multinomial logistic regression on standardised frozen features,
fit on the train split and scored on the test split (the survey's "linear readout"). Its L2
penalty is sklearn's C = 1, fixed: the papers tune it on a validation split (SimCLR's appendix
B.6; Kornblith et al. 2019), which a set of 1,797 images with 1 label per class leaves no room
for; the same C for every run and reference keeps them comparable."""
from __future__ import annotations

import warnings

import numpy as np


def fit_linear_probe(train_x: np.ndarray, train_y: np.ndarray, c: float = 1.0, max_iter: int = 1000,
                     scaler_x: np.ndarray | None = None):
    """The fitted readout: (scaler, classifier). The features are standardised with the mean
    and std of ``scaler_x`` (default: the labelled train features themselves); pass all
    train features when only a few of them are labelled."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    if len(np.unique(train_y)) < 2:
        raise ValueError("a linear probe needs at least two classes in the labelled train split")
    scaler = StandardScaler().fit(train_x if scaler_x is None else scaler_x)
    clf = LogisticRegression(C=c, max_iter=max_iter)
    # one BLAS thread: these problems are small (at most a few thousand x 512), and a
    # threaded BLAS spends more time synchronising than computing (measured 5x slower on
    # 2 cores with the other core busy, as it is while a worker trains)
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(scaler.transform(train_x), train_y)
    return scaler, clf


def linear_probe_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                          c: float = 1.0, max_iter: int = 1000, scaler_x: np.ndarray | None = None) -> float:
    """Accuracy on the test split of ``fit_linear_probe``'s readout."""
    scaler, clf = fit_linear_probe(train_x, train_y, c, max_iter, scaler_x)
    return float((clf.predict(scaler.transform(test_x)) == test_y).mean())


def fit_linear_head(train_x: np.ndarray, train_y: np.ndarray, num_classes: int, scaler_x: np.ndarray | None = None,
                    c: float = 1.0, max_iter: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """The linear readout as the weights of a head on the *raw* features:
    (W [num_classes, D], b [num_classes]) with W x + b equal to the probe's logits (classes
    absent from ``train_y`` get -inf-like bias). Used to start fine-tuning from the probe."""
    scaler, clf = fit_linear_probe(train_x, train_y, c, max_iter, scaler_x)
    coef, icpt = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:  # binary: sklearn keeps one row, the logit of the second class
        coef, icpt = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], icpt])
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    w_raw = coef / scale[None, :]
    b_raw = icpt - w_raw @ scaler.mean_
    W = np.zeros((num_classes, train_x.shape[1]), np.float32)
    b = np.full(num_classes, -1e4, np.float32)
    W[clf.classes_] = w_raw
    b[clf.classes_] = b_raw
    return W, b
