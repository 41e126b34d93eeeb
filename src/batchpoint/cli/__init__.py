"""The ``batchpoint`` command line: thin commands over the SDK, shaped like ``az ml``."""
