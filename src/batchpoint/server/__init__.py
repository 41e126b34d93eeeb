"""The batchpoint server: a FastAPI app over the same services the SDK uses embedded.

Build it with ``batchpoint.server.app.create_app(settings)``; run it with ``batchpoint server``.
"""
