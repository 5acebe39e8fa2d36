"""Work on a second database connection, in one transaction of its own, beside the caller's.

PostgreSQL runs each connection's statements on one CPU core. A long set-based job (a statement
batch: the statements, the outbox rows, their payment links, the superseding of older messages)
can use a second core by handing the writes that need not be in its own transaction to a
`SideTransaction`: a thread with its own connection (Django gives each thread one) that runs
the functions handed to it, one after the other, inside one transaction that ends when the
caller says so, commit or rollback.

Which writes may go beside, and when the side commits, is the caller's to decide by what a
crash between the two commits would leave behind:
- commit the side *before* the caller's transaction for rows that must exist by the time the
  caller's rows are seen, and are harmless alone (a payment link whose token is only in a
  message that was never committed: nobody can reach it);
- commit it *after* for rows that follow from the caller's and are caught anyway if they are
  lost (an older message stopped as superseded, which the send-time "still wanted?" check stops
  too).

A function that fails rolls the side back and fails every function handed to it after; its
error is raised by `wait`, by its future's `result` and by `commit`. Leaving the `with` block
without `commit` rolls back. The side's rows are not visible to the caller's transaction (nor
the other way round) until committed: hand it only writes to rows the caller does not read.
Only for PostgreSQL outside any other transaction (`available`); elsewhere the caller runs
the same functions in line, in its own transaction.
"""

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from django.db import connection, transaction

_COMMIT, _ROLLBACK = object(), object()


class SideTransactionFailed(Exception):
    """A function was handed to a side transaction after an earlier one failed."""


def available() -> bool:
    """Whether a side transaction can work beside the current one: PostgreSQL, and the caller
    inside no transaction (a test's, a request's) whose uncommitted rows the side's connection
    could not see."""
    return connection.vendor == "postgresql" and not connection.atomic_blocks


class SideTransaction:
    def __init__(self, name: str, *, in_flight: int = 2):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._futures: list[Future] = []
        self._in_flight = in_flight
        self._ended = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable, /, *args, **kwargs) -> Future:
        """Run fn(*args, **kwargs) in the side transaction, after what was handed before. Waits
        while `in_flight` earlier functions are still to finish (it bounds the memory their
        arguments hold)."""
        if self._ended:
            raise RuntimeError("this side transaction has ended")
        # Only the futures still to run are kept (a failure is kept in _error): the caller holds
        # those whose results it wants, and a result can be large (rows read beside).
        pending = [f for f in self._futures if not f.done()]
        while len(pending) >= self._in_flight:
            pending[0].exception()  # waits for the oldest; its error is raised by commit
            pending = [f for f in pending if not f.done()]
        future: Future = Future()
        self._futures = [*pending, future]
        self._queue.put((future, fn, args, kwargs))
        return future

    def wait(self) -> None:
        """Wait for everything handed so far; raise the first failure."""
        for future in self._futures:
            future.exception()
        if self._error is not None:
            raise self._error

    def commit(self) -> None:
        """Commit what the side wrote, once everything handed to it has run; if something
        failed, roll back and raise its error."""
        self._end(_COMMIT)
        if self._error is not None:
            raise self._error

    def rollback(self) -> None:
        self._end(_ROLLBACK)

    def __enter__(self) -> "SideTransaction":
        return self

    def __exit__(self, *exc) -> None:
        if not self._ended:
            self.rollback()

    def _end(self, how) -> None:
        if self._ended:
            raise RuntimeError("this side transaction has ended")
        self._ended = True
        self._queue.put(how)
        self._thread.join()

    def _work(self) -> None:
        try:
            with transaction.atomic():
                while (item := self._queue.get()) is not _COMMIT:
                    if item is _ROLLBACK:
                        transaction.set_rollback(True)
                        break
                    future, fn, args, kwargs = item
                    if not future.set_running_or_notify_cancel():
                        continue
                    if self._error is not None:
                        future.set_exception(SideTransactionFailed(str(self._error)))
                        continue
                    try:
                        future.set_result(fn(*args, **kwargs))
                    except BaseException as error:
                        self._error = error
                        future.set_exception(error)
                        transaction.set_rollback(True)
        except BaseException as error:
            self._error = self._error or error
        finally:
            connection.close()
