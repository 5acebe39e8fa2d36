from django.db.models import Q, QuerySet

from .models import SandboxMessage


def sandbox_messages(*, practice, user_email: str) -> QuerySet[SandboxMessage]:
    """The current office's recorded messages, and account emails sent to the signed-in user."""
    return SandboxMessage.objects.filter(
        Q(practice=practice) | Q(practice__isnull=True, to__iexact=user_email))


def sandbox_message_get(*, practice, user_email: str, pk) -> SandboxMessage:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(sandbox_messages(practice=practice, user_email=user_email), pk=pk)
