"""The build's record of itself (mlpx/_build_info.py, written by CMakeLists.txt
or by pyproject.toml's MLPX_NO_EXTENSION override) and what the backend switch
does with it. The builds themselves (compiler-less, MLPX_NO_EXTENSION=1) are
checked by .ci/run; here a fake record stands in for the installed one."""

import sys
import types
import warnings

import pytest

import mlpx
from mlpx import _backend, _config


def _fake_record(monkeypatch, extension, reason=""):
    mod = types.ModuleType("mlpx._build_info")
    mod.extension = extension
    mod.reason = reason
    monkeypatch.setitem(sys.modules, "mlpx._build_info", mod)
    monkeypatch.setattr(mlpx, "_build_info", mod, raising=False)
    return mod


def _no_record(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlpx._build_info", None)  # import fails
    monkeypatch.delattr(mlpx, "_build_info", raising=False)


def test_numpy_only_install_uses_numpy_without_a_warning(monkeypatch):
    _fake_record(monkeypatch, False, "no working C compiler (CC=/usr/bin/false)")
    monkeypatch.setenv("MLPX_BACKEND", "auto")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        name, impl, cause = _backend._load()
    assert name == "numpy"
    assert impl.__name__ == "mlpx._numpy_backend"
    assert "no working C compiler" in cause


def test_numpy_only_install_native_raises_naming_the_cause(monkeypatch):
    _fake_record(monkeypatch, False, "MLPX_NO_EXTENSION=1 at build time")
    monkeypatch.setenv("MLPX_BACKEND", "native")
    with pytest.raises(ImportError, match="installed without its compiled extension: "
                                          "MLPX_NO_EXTENSION=1 at build time"):
        _backend._load()


def test_numpy_only_install_explicit_numpy(monkeypatch):
    _fake_record(monkeypatch, False, "whatever")
    monkeypatch.setenv("MLPX_BACKEND", "numpy")
    assert _backend._load()[0] == "numpy"


def test_build_info_reads_the_record(monkeypatch):
    _fake_record(monkeypatch, False, "why")
    assert _backend.build_info() == {"extension": False, "reason": "why"}
    _fake_record(monkeypatch, True)
    assert _backend.build_info() == {"extension": True, "reason": ""}
    _no_record(monkeypatch)
    assert _backend.build_info() is None


def test_a_record_of_the_extension_changes_nothing(monkeypatch):
    """extension = True: the switch behaves as without a record (native when
    the extension loads, else the warned fallback)."""
    _fake_record(monkeypatch, True)
    monkeypatch.setenv("MLPX_BACKEND", "auto")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        name, _, cause = _backend._load()
    if name == "native":
        assert cause is None and not seen
    else:
        assert cause and any("compiled extension unavailable" in str(w.message) for w in seen)


def test_show_config_says_which(monkeypatch):
    _fake_record(monkeypatch, False, "no working C compiler")
    assert _config.config()["build"] == "NumPy-only install (no working C compiler)"
    _fake_record(monkeypatch, True)
    assert _config.config()["build"] == "compiled extension"
    _no_record(monkeypatch)
    assert _config.config()["build"].startswith("not recorded")


def test_installed_record_matches_the_package():
    """Where a record was installed, it tells the truth about _core."""
    info = _backend.build_info()
    if info is None:
        pytest.skip("no build record (source tree)")
    import importlib.util
    has_core = importlib.util.find_spec("mlpx._core") is not None
    assert info["extension"] == has_core, (info, has_core)


def test_progress_extra_is_an_empty_alias():
    """tqdm is a base dependency: the `progress` extra is still declared
    (so `pip install mlpx[progress]` works) but installs nothing more."""
    from importlib import metadata

    try:
        dist = metadata.distribution("mlpx")
    except metadata.PackageNotFoundError:
        pytest.skip("mlpx is not installed (a source tree on PYTHONPATH)")
    assert "progress" in (dist.metadata.get_all("Provides-Extra") or [])
    requires = dist.requires or []
    assert any(r.startswith("tqdm") and "extra" not in r for r in requires), requires
    assert not [r for r in requires if 'extra == "progress"' in r], requires
