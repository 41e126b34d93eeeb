"""The Python SDK: ``batchpoint.Client()`` with the same operations as the CLI."""

from batchpoint.client.client import Client

__all__ = ["Client"]
