"""``python -m crysense.reporting NOTEBOOK OUT PARAMETERS LOG_CELLS``: one notebook through papermill, in a process of
its own (`runner.execute_notebook` starts it, so two notebooks can run at once, each with its own environment)."""
import sys

from .runner import papermill_here

papermill_here(*sys.argv[1:5])
