"""Scale-out on Dask: GridSearchCV on a two-process LocalCluster through
joblib's dask backend picks what it picks locally; dask-ml's Incremental over
a chunked dask.array equals partial_fit chunk by chunk."""

import logging
import warnings

import numpy as np
import pytest

dask = pytest.importorskip("dask", reason="Dask scale-out needs the mlpx[dask] extra (dask)")
distributed = pytest.importorskip("distributed", reason="needs the mlpx[dask] extra (distributed)")
dask_ml = pytest.importorskip("dask_ml", reason="needs the mlpx[dask] extra (dask-ml)")

import dask.array as da  # noqa: E402
import joblib  # noqa: E402
from dask_ml.wrappers import Incremental  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from mlpx._estimator import MLPClassifier  # noqa: E402


def _assert_same_training(fitted, local, n_rows):
    """Incremental's fitted estimator is the block-by-block partial_fit's."""
    assert fitted.n_iter_ == local.n_iter_ and fitted.t_ == local.t_ == n_rows
    for a, b in zip(fitted.coefs_ + fitted.intercepts_, local.coefs_ + local.intercepts_):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert fitted.loss_curve_ == local.loss_curve_


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # port and dashboard notices
        cluster = distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1,
            dashboard_address=":0", silence_logs=logging.ERROR)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:500] / 16.0), y[:500]


GRID = {"hidden_layer_sizes": [(8,), (32,)], "alpha": [1e-4, 1.0]}


def _search(n_jobs):
    return GridSearchCV(
        MLPClassifier(max_iter=15, random_state=0, learning_rate_init=0.01),
        GRID, cv=3, n_jobs=n_jobs)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_on_dask_matches_local(client, digits):
    X, y = digits
    local = _search(None).fit(X, y)
    workers = set(client.scheduler_info()["workers"])
    assert len(workers) == 2
    with joblib.parallel_backend("dask"):
        remote = _search(-1).fit(X, y)
    assert remote.best_params_ == local.best_params_
    np.testing.assert_array_equal(remote.cv_results_["mean_test_score"],
                                  local.cv_results_["mean_test_score"])
    # the fits really ran on the cluster's workers
    ran = client.run(lambda: "mlpx._estimator" in __import__("sys").modules)
    assert set(ran) == workers and all(ran.values())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_incremental_equals_partial_fit_chunk_by_chunk(client, digits, dtype):
    X, y = digits
    X = X.astype(dtype)
    classes = np.unique(y)
    dX = da.from_array(X, chunks=(100, X.shape[1]))
    dy = da.from_array(y, chunks=100)
    assert dX.numblocks[0] == 5

    params = dict(hidden_layer_sizes=(16,), random_state=0, learning_rate_init=0.01)
    inc = Incremental(MLPClassifier(**params), shuffle_blocks=False, scoring="accuracy")
    inc.fit(dX, dy, classes=classes)

    local = MLPClassifier(**params)
    for start in range(0, len(X), 100):
        local.partial_fit(X[start:start + 100], y[start:start + 100], classes=classes)

    _assert_same_training(inc.estimator_, local, len(X))
    assert inc.score(dX, dy) == pytest.approx(local.score(X, y), abs=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        np.testing.assert_array_equal(inc.predict(dX).compute(), local.predict(X))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_incremental_regressor_equals_partial_fit_chunk_by_chunk(client, digits, dtype):
    from mlpx import MLPRegressor

    X, y = digits
    X = X.astype(dtype)
    Y = (y / 9.0).astype(dtype)  # one output: dask-ml pairs 1-d y blocks with X's
    dX = da.from_array(X, chunks=(100, X.shape[1]))
    dY = da.from_array(Y, chunks=100)

    params = dict(hidden_layer_sizes=(16,), random_state=0, learning_rate_init=0.01)
    inc = Incremental(MLPRegressor(**params), shuffle_blocks=False)
    inc.fit(dX, dY)

    local = MLPRegressor(**params)
    for start in range(0, len(X), 100):
        local.partial_fit(X[start:start + 100], Y[start:start + 100])

    _assert_same_training(inc.estimator_, local, len(X))
    # (dask-ml's own r2 scorer cannot broadcast the predictions' unknown
    # chunk sizes: the score is taken on the computed predictions)
    pred = inc.predict(dX).compute()
    np.testing.assert_array_equal(pred, local.predict(X))
    from sklearn.metrics import r2_score
    assert r2_score(Y, pred) == pytest.approx(local.score(X, Y), abs=1e-6)
