"""The data contract, declared once: the sample, dataset.json and the index."""

from __future__ import annotations

SAMPLE_SCHEMA = "statgen.sample/1"
DATASET_SCHEMA = "statgen.dataset/1"
