"""mlpx.gradcheck (issue 20): loss_and_grad's gradients against central
differences in float64, on whichever backend is active; a wrong gradient
raises GradcheckError."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import mlpx


def _net(rng, out_activation, sizes=(4, 5, 3), n=10):
    coefs = [rng.normal(size=(a, b)) * 0.7 for a, b in zip(sizes[:-1], sizes[1:])]
    intercepts = [rng.normal(size=b) * 0.5 for b in sizes[1:]]
    X = rng.normal(size=(n, sizes[0]))
    if out_activation == "softmax":
        Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    elif out_activation == "logistic":
        Y = rng.integers(0, 2, (n, sizes[-1])).astype(float)
    else:
        Y = rng.uniform(0, 2, (n, sizes[-1]))
    return coefs, intercepts, X, Y


@pytest.mark.parametrize("activation", ["logistic", "tanh", "relu", "identity"])
@pytest.mark.parametrize("out_activation", ["softmax", "logistic", "identity", "exp"])
def test_gradcheck_passes_on_the_library_gradients(activation, out_activation):
    rng = np.random.default_rng(7)
    coefs, intercepts, X, Y = _net(rng, out_activation, sizes=(4, 6, 5, 3))
    result = mlpx.gradcheck(coefs, intercepts, X, Y, activation=activation,
                            out_activation=out_activation, alpha=0.3,
                            sample_weight=rng.uniform(0.5, 2, len(X)))
    assert len(result.coefs) == len(result.intercepts) == 3
    assert result.passed and result.worst < 1e-6
    assert "gradcheck passed" in str(result)


def test_gradcheck_float32_input_checks_in_float64():
    rng = np.random.default_rng(8)
    coefs, intercepts, X, Y = _net(rng, "softmax")
    result = mlpx.gradcheck([c.astype(np.float32) for c in coefs],
                            [b.astype(np.float32) for b in intercepts],
                            X.astype(np.float32), Y, activation="logistic",
                            out_activation="softmax")
    assert result.worst < 1e-6


@pytest.mark.parametrize("which", [("coefs", 0, (2, 1)), ("intercepts", 1, (0,))])
def test_gradcheck_fails_loudly_on_a_wrong_gradient(monkeypatch, which):
    from mlpx import _api

    name, layer, index = which
    right = _api.loss_and_grad

    def wrong(*args, **kwargs):  # one element of one gradient 1% off
        loss, gW, gb = right(*args, **kwargs)
        grads = gW if name == "coefs" else gb
        grads[layer] = grads[layer].copy()
        grads[layer][index] *= 1.01
        return loss, gW, gb

    monkeypatch.setattr(_api, "loss_and_grad", wrong)
    rng = np.random.default_rng(9)
    coefs, intercepts, X, Y = _net(rng, "softmax")
    with pytest.raises(mlpx.GradcheckError, match=rf"{name}\[{layer}\]") as info:
        mlpx.gradcheck(coefs, intercepts, X, Y, activation="tanh", out_activation="softmax")
    assert info.value.result.worst > 1e-3
    assert isinstance(info.value, AssertionError)


def test_gradcheck_leaves_its_inputs_alone():
    rng = np.random.default_rng(10)
    coefs, intercepts, X, Y = _net(rng, "logistic")
    before = [c.copy() for c in coefs]
    mlpx.gradcheck(coefs, intercepts, X, Y, activation="relu", out_activation="logistic")
    for a, b in zip(coefs, before):
        assert_array_equal(a, b)
