"""Background jobs whose results reach the caller by SMS, and the notifiers that send it."""

from __future__ import annotations

from .notify import Notifier, OutboxNotifier, TwilioSmsNotifier, notifier_from_settings
from .queue import JobError, JobHandler, JobQueue, JobTimedOut

__all__ = ["JobError", "JobHandler", "JobQueue", "JobTimedOut", "Notifier", "OutboxNotifier", "TwilioSmsNotifier", "notifier_from_settings"]
