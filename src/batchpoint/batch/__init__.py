"""The batch engine: plan a job into mini-batches, lease them to workers, account, retry and merge."""
