"""Writes for statements: receiving a batch (API or CSV), and the profile edits (profiles.py)."""

from collections.abc import Callable, Iterable

from .ingest import IngestOutcome, batch_id_clean, profile_for, statement_batch_ingest
from .profiles import (
    profile_create,
    profile_make_default,
    profile_update,
    proof_approve,
    standard_profile_create,
    step_delete,
    step_save,
)

__all__ = ["profile_create", "profile_make_default", "profile_update", "proof_approve",
           "standard_profile_create", "statement_batch_receive", "step_delete", "step_save"]


def statement_batch_receive(*, practice, batch_id, profile_slug, items: Iterable[tuple[int, object]],
                            source: str, actor=None,
                            progress: Callable[[int], None] | None = None) -> IngestOutcome:
    """Check a batch's statements and take it in (ingest.py). Raises ValidationError for a bad
    batch_id, ProfileUnknown, or BatchConflict for a batch_id already used by other statements."""
    batch_id = batch_id_clean(batch_id)
    profile = profile_for(practice=practice, slug=profile_slug)
    return statement_batch_ingest(practice=practice, batch_id=batch_id, profile=profile, items=items,
                                  source=source, actor=actor, progress=progress)
