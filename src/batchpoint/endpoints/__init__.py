"""Batch endpoints and their deployments: YAML specs, services, and what an invocation routes to.

``specs`` holds what users write (Azure ML CLI v2 files), ``schemas`` what the SDK returns,
``service`` the logic (``BatchEndpointService``, ``BatchDeploymentService``).
"""
