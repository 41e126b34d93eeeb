"""Isolated Python environments for deployments: resolve what to install, build it with ``uv``, cache it.

``conda`` turns a conda file into a Python version and pip requirements, ``definitions`` decides what
a job's environment is (a registered environment, its model's own, or batchpoint's interpreter), and
``builder`` builds a virtual environment once per resolved content and reuses it.
"""
