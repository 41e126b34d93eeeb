"""Experiments and runs: every job is an MLflow run, kept in the workspace's MLflow tracking store."""
