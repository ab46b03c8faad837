import pytest
import torch

from superconv_lib import config


def test_device_override_and_errors(monkeypatch):
    monkeypatch.setenv("SUPERCONV_DEVICE", "cpu")
    assert config.device() == torch.device("cpu")
    monkeypatch.setenv("SUPERCONV_DEVICE", "tpu")
    with pytest.raises(ValueError, match="SUPERCONV_DEVICE"):
        config.device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("SUPERCONV_DEVICE", "cuda")
        with pytest.raises(ValueError, match="no CUDA"):
            config.device()


def test_device_default_order(monkeypatch):
    monkeypatch.delenv("SUPERCONV_DEVICE", raising=False)
    want = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert config.device().type == want


@pytest.mark.parametrize("raw, want", [("1", True), ("true", True), ("0", False), ("", False)])
def test_quick(monkeypatch, raw, want):
    monkeypatch.delenv("SUPERCONV_MODE", raising=False)
    monkeypatch.setenv("SUPERCONV_QUICK", raw)
    assert config.quick() is want


def test_quick_rejects_garbage(monkeypatch):
    monkeypatch.delenv("SUPERCONV_MODE", raising=False)
    monkeypatch.setenv("SUPERCONV_QUICK", "maybe")
    with pytest.raises(ValueError, match="SUPERCONV_QUICK"):
        config.quick()


@pytest.mark.parametrize("mode_var, quick_var, want", [
    ("quick", "", "quick"), ("laptop", "", "laptop"), ("full", "", "full"), (" Laptop ", "0", "laptop"),
    ("", "1", "quick"), ("", "0", "full"), ("quick", "1", "quick")])
def test_mode(monkeypatch, mode_var, quick_var, want):
    monkeypatch.setenv("SUPERCONV_MODE", mode_var)
    monkeypatch.setenv("SUPERCONV_QUICK", quick_var)
    assert config.mode() == want
    assert config.quick() is (want == "quick")


def test_mode_default_follows_the_hardware(monkeypatch):
    monkeypatch.delenv("SUPERCONV_MODE", raising=False)
    monkeypatch.delenv("SUPERCONV_QUICK", raising=False)
    assert config.mode() == ("full" if torch.cuda.is_available() else "laptop")


@pytest.mark.parametrize("mode_var, quick_var, match", [
    ("fast", "", "SUPERCONV_MODE='fast'"), ("laptop", "1", "contradicts SUPERCONV_QUICK=1")])
def test_mode_errors_name_the_fix(monkeypatch, mode_var, quick_var, match):
    monkeypatch.setenv("SUPERCONV_MODE", mode_var)
    monkeypatch.setenv("SUPERCONV_QUICK", quick_var)
    with pytest.raises(ValueError, match=match):
        config.mode()


def test_seed_everything_repeats():
    config.seed_everything(3)
    a = torch.randn(5)
    config.seed_everything(3)
    assert torch.equal(a, torch.randn(5))
    with pytest.raises(ValueError, match="seed"):
        config.seed_everything(-1)


def test_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SUPERCONV_DATA", str(tmp_path))
    assert config.data_dir() == tmp_path
    monkeypatch.setenv("SUPERCONV_DATA", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="SUPERCONV_DATA"):
        config.data_dir()
    monkeypatch.delenv("SUPERCONV_DATA")
    monkeypatch.setenv("SUPERCONV_CACHE", str(tmp_path / "cache"))
    assert config.data_dir() == tmp_path / "cache"


def test_report_names_mode(monkeypatch):
    monkeypatch.delenv("SUPERCONV_MODE", raising=False)
    monkeypatch.setenv("SUPERCONV_QUICK", "1")
    monkeypatch.setenv("SUPERCONV_DEVICE", "cpu")
    assert "quick" in config.report() and "cpu" in config.report()
