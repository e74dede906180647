"""A dask.distributed LocalCluster of two worker processes computes the loss and
gradient of a data set generated lazily with ``da.random`` that is bigger than the
workers' memory put together: no worker is restarted, and the numbers equal the
textbook formulas computed by Dask on the same data.

Marked ``cluster``. The default size (896 MB against two workers of 400 MB) runs in
CI in about 30 s; ``SYMDIFF_CLUSTER_ROWS`` sets another number of rows (of 16 columns).
"""
import os

import numpy as np
import pytest

import symdiff as sd

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
pytest.importorskip("array_api_compat")

ROWS = int(os.environ.get("SYMDIFF_CLUSTER_ROWS", 7_000_000))
COLS, CHUNK = 16, 125_000   # 16 MB chunks
MEMORY_LIMIT = "400MB"   # a worker process alone takes 130-180 MB


@pytest.mark.cluster
def test_local_cluster_bigger_than_memory():
    X, y, w = sd.matrix("X"), sd.vector("y"), sd.vector("w")
    z = X @ w
    loss = sd.mean(sd.softplus(z) - y * z)
    f = sd.function([X, y, w], [loss, sd.grad(loss, w)])

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  memory_limit=MEMORY_LIMIT, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        limit = sum(w["memory_limit"] for w in client.scheduler_info()["workers"].values())
        rs = da.random.RandomState(0)
        Xd = rs.normal(size=(ROWS, COLS), chunks=(CHUNK, COLS))
        yd = (rs.random_sample(ROWS, chunks=CHUNK) < 0.5).astype(np.float64)
        assert Xd.nbytes > limit, "the data set must not fit in the workers' memory"
        wn = np.linspace(-0.5, 0.5, COLS)
        workers = set(client.scheduler_info()["workers"])

        value, grad = dask.compute(*f(Xd, yd, wn))

        zd = Xd @ wn   # the textbook formulas, by Dask, on the same lazy data
        p = 1 / (1 + da.exp(-zd))
        oracle = dask.compute(da.mean(da.logaddexp(0, zd) - yd * zd), Xd.T @ (p - yd) / ROWS)
        assert set(client.scheduler_info()["workers"]) == workers, "a worker was restarted"
    np.testing.assert_allclose(value, oracle[0], rtol=1e-10)
    np.testing.assert_allclose(grad, oracle[1], rtol=1e-9, atol=1e-12)
