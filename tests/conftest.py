"""Unit tests use small arrays: one torch thread avoids thread-pool spin costs on shared 2-core machines."""

import pytest
import torch
from oracles import make_problem

torch.set_num_threads(1)


@pytest.fixture
def problem():
    """The shared problem factory (oracles.make_problem): problem(n=..., m=..., dtype=...)."""
    return make_problem
