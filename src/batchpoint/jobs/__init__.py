"""Batch jobs: invoke an endpoint, plan mini-batches, drive workers, commit and merge outputs."""
