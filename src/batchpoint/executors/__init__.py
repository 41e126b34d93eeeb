"""Where mini-batches run: a small contract (``base.Executor``) and its implementations."""
