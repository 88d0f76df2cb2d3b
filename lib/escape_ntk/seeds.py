"""Seeds for chapters: one independent ``torch.Generator`` per section, all derived from one base seed.

A chapter asks for ``en.generator("ch1", "taylor")`` at the top of each section instead of sharing one
stream, so an edit in one section (another width, a few more samples) never shifts the random numbers of
the next. The base seed is 0 for the published book; the environment variable ``ESCAPE_NTK_SEED`` (or
``seed=``) replaces it, which is how ``make chapters-seeds`` checks that every Check cell holds for
other seeds too, not only for the published one.

    seed(keys) = first 8 bytes of sha256("<base>/<key1>/<key2>/...")   (an int < 2**63)

Cost: one sha256 of a few bytes per call.
"""

from __future__ import annotations

import hashlib
import os

import torch

from ._checks import check_degree

SEED_ENV = "ESCAPE_NTK_SEED"


def base_seed() -> int:
    """The book's base seed: ``$ESCAPE_NTK_SEED`` if set (a non-negative integer), else 0."""
    raw = os.environ.get(SEED_ENV, "").strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(
            f"{SEED_ENV}={raw!r} is not an integer; unset it or set e.g. {SEED_ENV}=1"
        ) from None
    if value < 0:
        raise ValueError(f"{SEED_ENV}={value} is negative; use a non-negative integer")
    return value


def derive_seed(*keys: str | int, seed: int | None = None) -> int:
    """The integer seed of section ``keys`` under base ``seed`` (default :func:`base_seed`)."""
    if not keys:
        raise ValueError(
            "derive_seed needs at least one key naming the section, e.g. derive_seed('ch1', 'taylor')"
        )
    for key in keys:
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise TypeError(f"section keys are strings or ints, got {type(key).__name__}: {key!r}")
    base = base_seed() if seed is None else check_degree(seed, "seed")
    text = "/".join(str(k) for k in (base, *keys))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def generator(*keys: str | int, seed: int | None = None) -> torch.Generator:
    """A fresh CPU ``torch.Generator`` seeded with :func:`derive_seed` ``(*keys, seed=seed)``."""
    return torch.Generator().manual_seed(derive_seed(*keys, seed=seed))
