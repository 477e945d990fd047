"""SQL for workspace settings: small JSON values by key (the rater, the curation word limit, …)."""

from __future__ import annotations

import json

from core.store.connection import Store


def get_setting(store: Store, key: str, default: object = None) -> object:
    row = store.conn.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return json.loads(row[0]) if row else default


def set_setting(store: Store, key: str, value: object) -> None:
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, json.dumps(value)],
        )
