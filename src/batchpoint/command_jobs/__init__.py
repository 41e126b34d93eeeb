"""Command jobs: one shell command in an environment, with inputs and outputs (Azure ML's ``type: command``)."""
