from django.db import models

from practices.models import Practice


class SandboxMessage(models.Model):
    """A message the sandbox channel recorded instead of sending (embedded default and tests)."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"
        VOICE = "voice", "Voice"

    practice = models.ForeignKey(Practice, null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    to = models.CharField(max_length=500)
    sender = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.channel} to {self.to}"
