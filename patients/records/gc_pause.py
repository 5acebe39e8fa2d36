"""Pausing the cyclic garbage collector while a batch of records is checked."""

import gc
from contextlib import contextmanager


@contextmanager
def collector_paused():
    """No cyclic garbage collection while a batch of records is read and checked.

    A batch is tens of thousands of small containers (the parsed body, rows, records) and none
    of them forms a cycle, yet each pass of the collector walks all of them: paused, checking a
    batch costs about a quarter less (measured). Reference counting still frees everything; the
    collector resumes afterwards (unless something else had paused it).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


