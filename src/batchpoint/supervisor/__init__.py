"""The supervisor: one place that runs a workspace's long-running duties.

A *duty* (``duty.py``) is a small contract: ``name``, ``start()``, ``stop(timeout)``, ``health()``
and optionally ``notify()``. ``Supervisor`` (``service.py``) starts, stops and reports a list of
duties; which duties run where is one registry, ``service.DUTIES`` (one entry per duty).

Two hosts run a supervisor:

* the team server (``batchpoint server``): the job queue (``job_queue.py``) is its first duty;
* a per-workspace background process for embedded mode (``python -m batchpoint.supervisor
  --workspace W``, ``batchpoint supervisor start|stop|status``; ``process.py`` and ``control.py``),
  which today only watches the jobs (``job_watch.py``): embedded jobs still start detached at
  invoke. Schedules and online replicas will be its later duties.

``files.py`` (the lock, pid, status and log files of the background process) imports nothing
beyond the standard library, so ``batchpoint status`` stays cheap. docs/supervisor.md is the guide.
"""
