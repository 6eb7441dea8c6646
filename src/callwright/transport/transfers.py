"""Warm transfer of phone calls: which Twilio call goes to which person.

The TwiML that answers a call is ``<Connect action=".../twilio/after"><Stream/></Connect>``. To hand
a caller over, the call asks its transport (:meth:`SupportsTransfer.transfer`); on Twilio the
transport records the number here, keyed by the CallSid, lets the audio already sent play out and
closes the media stream. Twilio then requests the action URL, on whichever worker the load
balancer picks, and gets ``<Dial>number</Dial>`` for a call marked here, ``<Hangup/>`` otherwise.
The marks live on the call bus backend (Redis, or memory for one process) with a TTL.

The hand-over is warm: the mark keeps the call's summary (who is calling, what they asked, what
was done) next to the number. ``<Dial>`` names it as ``<Number url=".../twilio/whisper?call=...">``,
and Twilio runs the TwiML at that URL (``<Say>`` the summary) for the person who answers, after
they pick up and before the caller is put through.
"""

from __future__ import annotations

import re

from ..errors import CallwrightError
from ..phone import is_e164
from ..voice.call import SupportsTransfer as SupportsTransfer  # re-exported: the protocol lives with CallIO
from .bus import CallBus

TRANSFER_TTL_S = 3600.0  # long enough for Twilio to ask; the mark is gone soon after
CALL_SID = re.compile(r"^[A-Za-z0-9]{2,64}$")


class TransferError(CallwrightError):
    """A transfer cannot be made (no phone line, a bad number, an unknown call)."""

    category = "transfer"


def check_number(to: str) -> str:
    number = re.sub(r"[\s().-]", "", to)
    if not is_e164(number):
        raise TransferError(f"transfer target {to!r} is not a phone number in E.164 form, such as +15551230000")
    return number


def _key(call_sid: str) -> str:
    if not CALL_SID.match(call_sid):
        raise TransferError(f"{call_sid!r} is not a Twilio CallSid")
    return f"transfer:{call_sid}"


class Transfers:
    def __init__(self, bus: CallBus, *, ttl_s: float = TRANSFER_TTL_S) -> None:
        self.bus = bus
        self.ttl_s = ttl_s

    async def request(self, call_sid: str, to: str, summary: str = "") -> None:
        """Mark the Twilio call ``call_sid`` to be dialled through to ``to`` when its stream ends;
        ``summary`` is whispered to the person who answers. The summary is written first, so a
        worker that sees the number also sees it."""
        number = check_number(to)
        key = _key(call_sid)
        if summary:
            await self.bus.put(f"whisper:{call_sid}", summary, self.ttl_s)
        await self.bus.put(key, number, self.ttl_s)

    async def target(self, call_sid: str) -> str | None:
        """The number the call was marked for, if any."""
        if not CALL_SID.match(call_sid):
            return None
        return await self.bus.get(_key(call_sid))

    async def whisper(self, call_sid: str) -> str | None:
        """The summary to say to the person who takes call ``call_sid``, if it was marked with one."""
        if not CALL_SID.match(call_sid):
            return None
        return await self.bus.get(f"whisper:{call_sid}")
