"""Tools of the order desk. The "shop" behind them is a small SQLite file (a stand-in for a real
order system), so the example runs offline; swap these bodies for calls to your own APIs.

Timings are deliberately slow (a real order system often is) so the call shows its practices:
a filler line while an order is looked up, spoken progress during a product search, and a
purchase that runs as a background job and ends with an SMS. ``ORDER_DESK_SPEED`` scales them.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from callwright.agent.tools import ToolContext, tool

SPEED = float(os.environ.get("ORDER_DESK_SPEED", "1.0"))  # 2.0 = twice as fast
JOB_SECONDS = float(os.environ.get("ORDER_DESK_JOB_SECONDS", "4"))

CUSTOMERS = {"+14155550123": "Sam", "+14155550188": "Priya"}
ORDERS = {
    "4567": ("out for delivery", "in about twenty minutes"),
    "1234": ("being packed", "within the hour"),
    "7890": ("delivered", "already: it was left at the front door"),
}
CATALOG = {
    "oat milk": ("Oatly oat milk, one liter", 3.49, 2),
    "sourdough": ("a sourdough loaf", 4.99, 3),
    "gluten free bread": ("gluten free seeded bread", 5.49, 1),
    "salmon": ("fresh Atlantic salmon fillets", 12.99, 2),
    "avocado": ("ripe Hass avocados", 1.25, 3),
    "eggs": ("a dozen free range eggs", 4.29, 3),
}


async def lookup_customer(phone: str) -> dict[str, str] | None:
    """Identity hook: the customer's name from their phone number (E.164)."""
    name = CUSTOMERS.get(phone)
    return {"name": name} if name else None


def _shop(ctx: ToolContext) -> sqlite3.Connection:
    Path(ctx.data_dir).mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(Path(ctx.data_dir) / "market.db")
    db.execute(
        "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, idempotency_key TEXT UNIQUE, phone TEXT,"
        " product TEXT, quantity INTEGER, address TEXT, placed_at TEXT)"
    )
    return db


@tool(slow_after=0.3, timeout=8, filler="Let me pull up that order.")
async def order_status(ctx: ToolContext, order_number: str) -> dict[str, str]:
    """Look up the delivery status of an order by its number."""
    await ctx.sleep(1.5 / SPEED)
    found = ORDERS.get(order_number.strip().lstrip("#"))
    if found is None:
        raise LookupError(f"no order {order_number}")
    return {"status": found[0], "eta": found[1]}


@tool(slow_after=0.3, timeout=8, filler="Let me check your latest order.")
async def latest_order(ctx: ToolContext) -> dict[str, str]:
    """The caller's most recent order, found by their phone number."""
    await ctx.sleep(0.5 / SPEED)
    with _shop(ctx) as db:
        row = db.execute(
            "SELECT id, quantity, product FROM orders WHERE phone = ? ORDER BY id DESC LIMIT 1", (ctx.caller,)
        ).fetchone()
    if row is None:
        return {"summary": "I can't see any recent orders on this number."}
    return {"summary": f"Your order number {row[0]} of {row[1]} {row[2]} is on its way and should arrive within the hour."}


@tool(slow_after=0.3, timeout=10, filler="Let me search our stores for that.")
async def search_products(ctx: ToolContext, query: str) -> dict[str, str]:
    """Search the three nearby stores for a product, with spoken progress."""
    await ctx.sleep(0.8 / SPEED)
    await ctx.progress("I'm checking stock in our three nearby stores.")
    await ctx.sleep(1.2 / SPEED)
    wanted = query.lower()
    hit = next((v for k, v in CATALOG.items() if k in wanted or wanted.rstrip("s") in k), None)
    if hit is None:
        return {"summary": f"Sorry, none of our stores has {query} right now."}
    name, price, stores = hit
    where = "one of our stores has" if stores == 1 else f"{stores} of our stores have"
    return {"summary": f"Yes, {where} {name}, at ${price:.2f} each."}


@tool(background=True, side_effects=True, timeout=120)
async def place_order(ctx: ToolContext, product: str, quantity: int, address: str) -> str:
    """Place a delivery order. Slow (payment and store confirmation), so it runs as a background job;
    the idempotency key makes a retried job place the order once."""
    await ctx.sleep(JOB_SECONDS)
    with _shop(ctx) as db:
        db.execute(
            "INSERT OR IGNORE INTO orders (idempotency_key, phone, product, quantity, address, placed_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (ctx.idempotency_key, ctx.caller, product, quantity, address, datetime.now(UTC).isoformat()),
        )
        order_id = db.execute("SELECT id FROM orders WHERE idempotency_key = ?", (ctx.idempotency_key,)).fetchone()[0]
    return (
        f"Callwright Market: your order number {order_id}, {quantity} {product}, is confirmed "
        f"and will be delivered to {address} within the hour."
    )
