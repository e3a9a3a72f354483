"""Classical baselines, as in the official Fashion-MNIST benchmark, in the run-directory format.

The paper's introduction argues that hand-made features and classical learners fall short of
deep networks; these let the claim be checked on the same test set, in the same report:

- `logreg`: multinomial logistic regression on raw pixels;
- `random-forest`: 100 trees on raw pixels;
- `svc-rbf`: an RBF-kernel SVC on the first 100 principal components of the pixels (PCA keeps
  the kernel evaluations affordable on 2 cores; the official benchmark's best SVCs used raw pixels);
- `hog-linear-svm`: HOG features (scikit-image) with a linear SVM.

Each writes config.toml, environment.json, an empty history.csv, metrics.json (with the
training and prediction times), predictions.csv and the figures. Fitted models are not saved:
scikit-learn models are pickles, and opening a pickle runs code.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import UserError
from .runs import RunDir, environment_record, write_scored_run


def _hog_features(images: np.ndarray) -> np.ndarray:
    try:
        from skimage.feature import hog
    except ImportError:
        raise UserError("hog-linear-svm needs scikit-image: pip install 'fashionlab[classical]'.") from None
    return np.stack([
        hog(img, orientations=9, pixels_per_cell=(4, 4), cells_per_block=(2, 2), block_norm="L2-Hys")
        for img in images
    ]).astype(np.float32)


def _pixels(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float32) / 255


@dataclass(frozen=True)
class Baseline:
    name: str
    description: str
    features: Callable[[np.ndarray], np.ndarray]
    make: Callable[[int], object]  # seed -> scikit-learn estimator
    params: dict


def _logreg(seed):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=200, random_state=seed)


def _forest(seed):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=seed)


def _svc(seed):
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    return make_pipeline(PCA(n_components=100, random_state=seed), SVC(C=10, kernel="rbf", gamma="scale",
                                                                        cache_size=1000, random_state=seed))


def _hog_svm(seed):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    return make_pipeline(StandardScaler(), LinearSVC(C=0.01, max_iter=2000, random_state=seed))


BASELINES = {
    b.name: b
    for b in (
        Baseline("logreg", "logistic regression on raw pixels", _pixels, _logreg, {"C": 1.0, "max_iter": 200}),
        Baseline("random-forest", "random forest, 100 trees, on raw pixels", _pixels, _forest, {"n_estimators": 100}),
        Baseline("svc-rbf", "RBF SVC (C=10) on 100 PCA components of the pixels", _pixels, _svc,
                 {"pca_components": 100, "C": 10, "gamma": "scale"}),
        Baseline("hog-linear-svm", "HOG features (9 orientations, 4x4 cells) with a linear SVM", _hog_features,
                 _hog_svm, {"orientations": 9, "pixels_per_cell": 4, "cells_per_block": 2, "C": 0.01}),
    )
}


def _probabilities(model, features: np.ndarray) -> np.ndarray:
    """Class probabilities where the model has them; a softmax of SVM decision values otherwise."""
    if hasattr(model, "predict_proba"):
        return model.predict_proba(features)
    scores = model.decision_function(features)
    scores = scores - scores.max(1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(1, keepdims=True)


def run_baseline(name: str, dataset, out, seed: int = 0, train_limit: int = 0, log=print) -> dict:
    """Fit one baseline on the training set, score the full test set, write a run directory."""
    from .evaluation import probability_metrics

    if name not in BASELINES:
        raise UserError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}.")
    baseline = BASELINES[name]
    train_x, train_y = dataset.train_images, dataset.train_labels
    if train_limit:
        train_x, train_y = train_x[:train_limit], train_y[:train_limit]
    if len(np.unique(np.asarray(train_y))) < 2:
        raise UserError(f"--train-limit {train_limit}: the first {train_limit} training images hold one class; "
                        "a classifier needs at least two. Give a larger limit.")
    if name == "svc-rbf" and len(train_y) < baseline.params["pca_components"]:
        raise UserError(f"--train-limit {train_limit}: svc-rbf needs at least {baseline.params['pca_components']} "
                        "training images for its PCA step. Give a larger limit.")
    config = {"name": name, "description": baseline.description, "release": dataset.release,
              "seed": seed, "train_limit": train_limit, **{f"param_{k}": v for k, v in baseline.params.items()}}
    environment = environment_record(seed, dataset)

    started = time.perf_counter()
    features = baseline.features(np.asarray(train_x))
    with warnings.catch_warnings(record=True) as caught:  # e.g. lbfgs stopping at max_iter: kept, said once
        warnings.simplefilter("always")
        model = baseline.make(seed).fit(features, np.asarray(train_y))
    train_seconds = time.perf_counter() - started
    fit_warnings = sorted({str(w.message).splitlines()[0] for w in caught})
    started = time.perf_counter()
    test_features = baseline.features(np.asarray(dataset.test_images))
    k = len(dataset.classes)
    probabilities = np.zeros((len(test_features), k))
    probabilities[:, model.classes_] = _probabilities(model, test_features)
    predict_seconds = time.perf_counter() - started

    metrics = probability_metrics(probabilities, np.asarray(dataset.test_labels), dataset.classes)
    metrics.update({"experiment": name, "model": name, "release": dataset.release,
                    "train_seconds": round(train_seconds, 3), "predict_seconds": round(predict_seconds, 3),
                    "train_count": int(len(train_y)), "classes": list(dataset.classes), "fit_warnings": fit_warnings,
                    "test_loss_note": "cross-entropy of the predicted probabilities (a softmax of decision values for SVMs)"})
    write_scored_run(RunDir(out), "baseline", config, environment, metrics, probabilities, dataset,
                     title=f"{name} ({dataset.release})")
    log(f"{name}: test accuracy {metrics['test_accuracy']:.4f}, trained in {train_seconds:.1f} s "
        f"on {len(train_y):,} images, predicted in {predict_seconds:.1f} s"
        + "".join(f" (warning: {w})" for w in fit_warnings))
    return metrics


def run_baselines(names, out, data_dir=None, release="fashion-mnist", seed=0, train_limit=0, log=print) -> dict:
    from .data import load_dataset

    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise UserError(f"--seed {seed}: scikit-learn takes seeds from 0 to 2**32 - 1.")
    if isinstance(train_limit, bool) or not isinstance(train_limit, int) or train_limit < 0:
        raise UserError(f"--train-limit {train_limit}: give a number of images >= 0 (0 means all).")
    names = list(dict.fromkeys(names))  # a method named twice runs once
    for name in names:  # before any fitting: a finished baseline is never replaced
        run = RunDir(Path(out) / name)
        if run.holds_results_or_state or run.files_not_from_a_run:
            raise UserError(f"{run.path} already holds a run or its files; choose another --out.")
    dataset = load_dataset(release, data_dir)
    return {name: run_baseline(name, dataset, Path(out) / name, seed, train_limit, log) for name in names}
