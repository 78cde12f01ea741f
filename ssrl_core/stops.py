"""How a run stops before its end: what the training loop, the evaluation and the worker
raise. Here, apart from the loop, so that the worker's bookkeeping (which workers are
alive, what a run's folder weighs) imports no PyTorch: `python -m ssrl_core runs` uses it."""
from __future__ import annotations


class Interrupted(Exception):
    """Stops a run from inside (``should_cancel`` or an ``on_event`` callback raises it);
    optional evaluation steps never swallow it. What was written so far stays."""


class Cancelled(Interrupted):
    """Raised inside the loop when ``should_cancel`` says so; the last checkpoint stays.
    ``done``: how many epochs that checkpoint holds, where the loop knows it."""

    def __init__(self, message: str = "cancelled", done: int | None = None, epochs: int | None = None):
        super().__init__(message)
        self.done, self.epochs = done, epochs
