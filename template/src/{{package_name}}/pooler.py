"""Server settings per transaction, for apps behind PgBouncer's transaction pooling.

PgBouncer 1.18 refuses libpq's ``options`` startup parameter, and a session
``SET`` would land on whichever server connection PgBouncer lent at that
moment. So ``config.pooler_options`` moves the ``-c name=value`` settings
(timeouts) into an engine execution option, and each transaction here starts
with ``set_config(..., is_local => true)``: the settings hold for exactly the
transaction that PgBouncer pins to one server connection.
"""

from typing import Any

from sqlalchemy import Connection, Engine, event

#: The engine execution option holding ``{name: value}`` to set per transaction.
TRANSACTION_SETTINGS = "transaction_settings"


def apply_transaction_settings(engine: Engine) -> None:
    """Set the engine's per-transaction settings at the start of each transaction."""
    options = engine.get_execution_options()
    settings: dict[str, str] = options.get(TRANSACTION_SETTINGS, {})
    if not settings:
        return
    calls = ", ".join(["set_config(%s, %s, true)"] * len(settings))
    statement = f"SELECT {calls}"
    parameters = tuple(part for item in settings.items() for part in item)

    @event.listens_for(engine, "begin")
    def _set_local(connection: Connection) -> None:
        connection.exec_driver_sql(statement, parameters)


def parse_startup_options(options: Any) -> dict[str, str]:
    """``"-c statement_timeout=15000 -c lock_timeout=5000"`` as a dict."""
    words = str(options or "").split()
    settings = {}
    for number, word in enumerate(words):
        setting = word[2:] if word.startswith("-c") and len(word) > 2 else None
        if word == "-c" and number + 1 < len(words):
            setting = words[number + 1]
        if setting and "=" in setting:
            name, _, value = setting.partition("=")
            settings[name] = value
    return settings
