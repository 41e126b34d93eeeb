"""What runs inside a worker process: load the scoring script, call init/run, write part files.

Standard library only (pandas is used when the user's ``run`` returns a DataFrame, which means the
worker's environment has it). This lets a worker start fast and run under any interpreter.
"""
