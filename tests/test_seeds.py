"""Per-section generators: independent of each other, reproducible, and moved by the base seed alone."""

import pytest
import torch

import escape_ntk as en


def test_same_keys_same_numbers_other_keys_other_numbers(monkeypatch):
    monkeypatch.delenv(en.SEED_ENV, raising=False)
    a = torch.randn(5, generator=en.generator("ch1", "taylor"))
    assert torch.equal(a, torch.randn(5, generator=en.generator("ch1", "taylor")))
    assert not torch.equal(a, torch.randn(5, generator=en.generator("ch1", "scales")))
    assert not torch.equal(a, torch.randn(5, generator=en.generator("ch2", "taylor")))
    assert en.derive_seed("ch1", "taylor") == en.derive_seed("ch1", "taylor", seed=0)


def test_base_seed_from_the_environment(monkeypatch):
    monkeypatch.setenv(en.SEED_ENV, "7")
    assert en.base_seed() == 7
    assert en.derive_seed("ch1", 3) == en.derive_seed("ch1", 3, seed=7) != en.derive_seed("ch1", 3, seed=0)
    assert 0 <= en.derive_seed("x") < 2**63


@pytest.mark.parametrize("raw, match", [("one", "not an integer"), ("-2", "negative")])
def test_bad_environment_seed_is_named(monkeypatch, raw, match):
    monkeypatch.setenv(en.SEED_ENV, raw)
    with pytest.raises(ValueError, match=match):
        en.generator("ch1")


def test_bad_keys_and_seed():
    with pytest.raises(ValueError, match="at least one key"):
        en.derive_seed()
    with pytest.raises(TypeError, match="strings or ints"):
        en.derive_seed(1.5)
    with pytest.raises(ValueError, match="seed"):
        en.derive_seed("ch1", seed=-1)
