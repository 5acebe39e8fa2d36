"""Getting due notifications to their channel exactly once.

The life of a row (statuses in models.Status):

1. `queued` (or `queueing_error`, or `undeliverable_retry` waiting for its next attempt) with a
   `send_at`, and an entry on the due list (models.NotificationDue, `due_at` = `send_at`;
   every write that leaves a row waiting sets it, see due.py). Rows due now are enqueued on
   commit by notification_schedule; the once-a-minute dispatcher (`dispatch_due`, in
   settings.DUE_WORK) claims due entries in chunks. A row left waiting without its entry (a
   writer interrupted between the two) is put back on the list by the
   sweep `due.due_list_repair` (also in DUE_WORK).
2. Claim, in two steps. The dispatcher's claim (`claim_due`, `FOR UPDATE SKIP LOCKED` on
   PostgreSQL) touches only the narrow due list: it moves each due entry's `due_at` a claim
   lease (NOTIFICATIONS_CLAIM_LEASE_SECONDS) ahead, so the entry is not claimed again
   meanwhile and comes back by itself if its ids are lost, and hands chunks of ids to Celery
   (`notifications.tasks.notifications_deliver`). The task then claims the rows themselves
   (`claim_ids`): one conditional UPDATE moves those still waiting and due to `sending` with a
   claim lease and no attempt started, and clears their entries. Until then a claimed row
   still reads `queued` on the screens.
3. Attempt: the task checks the contact policy, waits for the sender's rate, then takes a
   small batch of rows (NOTIFICATIONS_ATTEMPT_BATCH) with a second conditional UPDATE that sets
   `attempt_started_at` only where it is still NULL. Only the UPDATE that changed a row may call
   the provider for it: a task delivered twice, or two tasks for one row, send once. The send
   lease becomes NOTIFICATIONS_SEND_LEASE_SECONDS (always longer than the provider timeout).
   The take is also where the frequency cap is enforced across processes: in its transaction,
   under an advisory lock per recipient, the recipient's sends are counted again and the take
   writes `sent_at` on texts and calls, so an attempt in flight counts like a send (a failed
   attempt clears it again). Two tasks texting one recipient at once cannot both pass.
   The batch's outcomes are recorded together, so a worker killed mid-batch leaves at most one
   batch per process to the reclaim rule below.
4. Outcome: `sent` with the provider's id; a temporary error -> `undeliverable_retry` with a
   later `send_at` (bounded, exponential backoff) or `delivery_error` once attempts run out; a
   permanent error -> `undeliverable_permanent`.

Reclaim rule for an expired lease (`sending` and `lease_expires_at` past), run by the dispatcher:

- no attempt started: the provider was never called, so the row goes back to `queued` (and on
  the due list) and is claimed again. Safe.
- attempt started: the worker died between the provider call and recording its answer. By now
  the lease is longer than the provider timeout, so the provider has either accepted the
  message or never will. The channel is asked (`lookup`): Twilio SMS is searched for a message
  to the address with this text whose sid no other notification holds; the sandbox is searched
  by notification id. Found -> `sent` with that id. Certainly absent -> `queued` again.
  The channel cannot tell (email through an ESP, voice) -> `delivery_error`, never resent
  automatically; staff see "Delivery error" with the detail "Fate unknown: the send was
  interrupted ..." in the row's history and decide to send again or cancel.

Where it runs: beat's minute job (`dispatch_due`) hands the claimed ids to the Celery worker;
`manage.py send_due` (practices.due_work, in process) and `drain_inline` deliver them in their
own process through the same `deliver`. The modules follow the life above: claim.py (step 2),
attempt.py (3), outcome.py (4), reclaim.py (the rule), enqueue.py (handing ids on), jobs.py (the
runs that tie them together).
"""

from .attempt import DueMessage, deliver
from .claim import claim_due, claim_ids, send_lease_seconds
from .enqueue import enqueue_ids, enqueue_on_commit
from .jobs import dispatch_due, drain_inline
from .outcome import retry_backoff
from .reclaim import UNKNOWN_FATE, reclaim_expired

__all__ = ["UNKNOWN_FATE", "DueMessage", "claim_due", "claim_ids", "deliver", "dispatch_due",
           "drain_inline", "enqueue_ids", "enqueue_on_commit", "reclaim_expired", "retry_backoff",
           "send_lease_seconds"]
