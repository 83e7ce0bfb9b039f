"""Regression testing: ``--expect`` TOML expectations (``expect``), report baselines (``diff``)."""
