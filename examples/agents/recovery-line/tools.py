"""Tools of the recovery line. The nurse rota behind them is a small SQLite file, a stand-in for a
clinic's booking system, so the example runs offline.

Booking has a side effect, so it is marked ``side_effects=True``: it gets an idempotency key,
finishes even if the caller talks over it, and a repeated request in the same call (after a
barge-in, say) returns the booking already made instead of making a second one.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path

from callwright.agent.shaping import speakable
from callwright.agent.tools import ToolContext, tool

BOOKING_SECONDS = float(os.environ.get("RECOVERY_LINE_BOOKING_SECONDS", "2"))
PATIENTS = {"+14155550199": "Robert", "+14155550177": "Daniel"}


async def lookup_patient(phone: str) -> dict[str, str] | None:
    """Identity hook: a patient's first name from their phone number (E.164)."""
    name = PATIENTS.get(phone)
    return {"name": name} if name else None


def _rota(ctx: ToolContext) -> sqlite3.Connection:
    Path(ctx.data_dir).mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(Path(ctx.data_dir) / "nurse-rota.db")
    db.execute(
        "CREATE TABLE IF NOT EXISTS bookings (id INTEGER PRIMARY KEY, idempotency_key TEXT UNIQUE,"
        " phone TEXT, at TEXT, reason TEXT)"
    )
    return db


def bookings(data_dir: Path) -> list[tuple[str, str, str]]:
    """Every booking made (phone, time, reason); tests read this to count side effects."""
    path = Path(data_dir) / "nurse-rota.db"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return list(db.execute("SELECT phone, at, reason FROM bookings ORDER BY id"))


@tool(slow_after=0.7, timeout=15, side_effects=True, filler="I'm booking that with the nurse team now.")
async def book_nurse_call(ctx: ToolContext, when: str, reason: str = "") -> dict[str, str]:
    """Book a nurse to call the patient back at ``when`` (ISO 8601 with the line's UTC offset)."""
    await ctx.sleep(BOOKING_SECONDS)
    at = datetime.fromisoformat(when)
    with _rota(ctx) as db:
        db.execute(
            "INSERT OR IGNORE INTO bookings (idempotency_key, phone, at, reason) VALUES (?, ?, ?, ?)",
            (ctx.idempotency_key, ctx.caller, at.isoformat(), reason),
        )
        booking_id = db.execute("SELECT id FROM bookings WHERE idempotency_key = ?", (ctx.idempotency_key,)).fetchone()[0]
    spoken = speakable(f"on {at:%Y-%m-%d} at {at:%H:%M}")
    return {"booking_id": f"N{booking_id:04d}", "when": at.isoformat(), "when_spoken": spoken}
