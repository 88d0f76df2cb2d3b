"""Unit tests use small arrays: one torch thread avoids thread-pool spin costs on shared 2-core machines."""

import torch

torch.set_num_threads(1)
