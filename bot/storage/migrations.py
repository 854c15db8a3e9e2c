"""Versioned schema migrations, tracked in PRAGMA user_version. Append; never edit a shipped one."""

from __future__ import annotations

import aiosqlite

MIGRATIONS: list[str] = [
    # 1: conversations, inbox of processed events, sealed transcript, handoff requests.
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        channel TEXT NOT NULL,
        flow TEXT NOT NULL,
        state TEXT NOT NULL,
        locale TEXT NOT NULL,
        age_band TEXT,
        nation TEXT,
        pattern TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        sealed BLOB NOT NULL
    );
    CREATE INDEX conversations_updated ON conversations (updated_at);
    CREATE TABLE inbox (
        event_key TEXT PRIMARY KEY,
        at REAL NOT NULL
    );
    CREATE INDEX inbox_at ON inbox (at);
    CREATE TABLE transcript (
        conversation_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at REAL NOT NULL,
        sealed BLOB NOT NULL,
        PRIMARY KEY (conversation_id, seq)
    );
    CREATE TABLE handoffs (
        id INTEGER PRIMARY KEY,
        conversation_id TEXT NOT NULL,
        priority TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'open'
    );
    CREATE INDEX handoffs_conversation ON handoffs (conversation_id);
    """,
    # 2: the evidence vault. Files live encrypted on disk; each row holds the item's wrapped key.
    """
    CREATE TABLE evidence (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        received_at REAL NOT NULL,
        channel TEXT NOT NULL,
        sealed_name BLOB NOT NULL,
        wrapped_key BLOB NOT NULL
    );
    CREATE INDEX evidence_conversation ON evidence (conversation_id);
    """,
    # 3: channels. Raw platform updates are sealed and kept until handled (nothing is lost if
    # the process dies after acknowledging them); effects wait in the outbox until delivered;
    # the chat's message ids are kept so a quick exit can delete the messages.
    """
    CREATE TABLE channel_inbox (
        channel TEXT NOT NULL,
        update_id INTEGER NOT NULL,
        received_at REAL NOT NULL,
        sealed BLOB NOT NULL,
        PRIMARY KEY (channel, update_id)
    );
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_key TEXT NOT NULL UNIQUE,
        conversation_id TEXT NOT NULL,
        created_at REAL NOT NULL,
        delivered INTEGER NOT NULL DEFAULT 0,
        sealed BLOB NOT NULL
    );
    CREATE TABLE channel_messages (
        conversation_id TEXT NOT NULL,
        message_id INTEGER NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (conversation_id, message_id)
    );
    """,
    # 4: the web widget. A session is found by the hash of its token (a copied database does
    # not give working tokens) and proven with the browser's public key; the messages the widget
    # was sent are kept sealed so a reconnect resumes without loss or repetition.
    """
    CREATE TABLE web_sessions (
        token_hash TEXT PRIMARY KEY,
        session_id TEXT NOT NULL UNIQUE,
        conversation_id TEXT NOT NULL,
        public_key BLOB NOT NULL,
        origin TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_seen REAL NOT NULL
    );
    CREATE INDEX web_sessions_conversation ON web_sessions (conversation_id);
    CREATE TABLE web_messages (
        conversation_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        sealed BLOB NOT NULL,
        PRIMARY KEY (conversation_id, seq)
    );
    """,
    # 5: moderators. Passwords as argon2id hashes; sessions by token hash with their own CSRF
    # token; sign-in attempts for throttling; an audit log of who did what (never content).
    """
    CREATE TABLE moderators (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        email TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('moderator', 'admin')),
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        password_changed_at REAL NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE moderator_sessions (
        token_hash TEXT PRIMARY KEY,
        moderator_id INTEGER NOT NULL REFERENCES moderators (id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_seen REAL NOT NULL
    );
    CREATE INDEX moderator_sessions_moderator ON moderator_sessions (moderator_id);
    CREATE TABLE signin_attempts (
        key TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX signin_attempts_key ON signin_attempts (key, at);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        moderator_id INTEGER,
        action TEXT NOT NULL,
        subject TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT ''
    );
    """,
    # 6: cases for moderators. A handoff opens a case (one open case per conversation; a later
    # handoff can only raise its priority). Notes and the live relay are sealed. `daily` and
    # `waits` are anonymous aggregates for the dashboard: they outlive erased conversations.
    """
    CREATE TABLE cases (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        rank INTEGER NOT NULL,
        reason TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'claimed', 'closed')),
        owner INTEGER,
        opened_at REAL NOT NULL,
        queued_at REAL NOT NULL,
        claimed_at REAL,
        closed_at REAL,
        outcome TEXT
    );
    CREATE UNIQUE INDEX cases_open ON cases (conversation_id) WHERE status != 'closed';
    CREATE TABLE case_notes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL,
        moderator_id INTEGER NOT NULL,
        at REAL NOT NULL,
        sealed BLOB NOT NULL
    );
    CREATE INDEX case_notes_conversation ON case_notes (conversation_id);
    CREATE TABLE relay (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL,
        at REAL NOT NULL,
        author TEXT NOT NULL CHECK (author IN ('person', 'moderator')),
        moderator_id INTEGER,
        event_key TEXT UNIQUE,
        sealed BLOB NOT NULL
    );
    CREATE INDEX relay_conversation ON relay (conversation_id);
    CREATE TABLE daily (
        day TEXT NOT NULL,
        metric TEXT NOT NULL,
        key TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (day, metric, key)
    );
    CREATE TABLE waits (
        day TEXT NOT NULL,
        seconds REAL NOT NULL
    );
    """,
    # 7: two-factor sign-in for moderators: the TOTP secret sealed (bound to the moderator's id),
    # recovery codes only as hashes, console-wide settings (e.g. "require two-factor sign-in").
    # Before this migration the console made these tables itself when first needed, so a
    # database may have them already: IF NOT EXISTS keeps whatever it holds.
    """
    CREATE TABLE IF NOT EXISTS moderator_totp (
        moderator_id INTEGER PRIMARY KEY REFERENCES moderators (id) ON DELETE CASCADE,
        sealed BLOB NOT NULL,
        confirmed INTEGER NOT NULL DEFAULT 0,
        last_step INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS moderator_recovery (
        moderator_id INTEGER NOT NULL REFERENCES moderators (id) ON DELETE CASCADE,
        code_hash TEXT NOT NULL,
        PRIMARY KEY (moderator_id, code_hash)
    );
    CREATE TABLE IF NOT EXISTS console_settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 8: where a case came from, so that many cases from one client fold into one group in the
    # queue and one urgent alert: a keyed hash (HMAC) of the client, never its address; NULL
    # when unknown (Telegram chats, cases opened before this). Cleared when the case closes.
    # The queue reads open cases only, in its own order: a partial index keeps that read
    # proportional to what is open, not to every case ever closed.
    """
    ALTER TABLE cases ADD COLUMN source TEXT;
    CREATE INDEX cases_queue ON cases (status, rank, queued_at) WHERE status != 'closed';
    CREATE INDEX cases_source ON cases (source, rank, queued_at)
        WHERE status = 'queued' AND source IS NOT NULL;
    """,
]

# Every table holding rows about a person, keyed by conversation id: erasure covers all of them.
PERSONAL_TABLES: dict[str, str] = {
    "evidence": "conversation_id",
    "transcript": "conversation_id",
    "handoffs": "conversation_id",
    "outbox": "conversation_id",
    "web_messages": "conversation_id",
    "web_sessions": "conversation_id",
    "cases": "conversation_id",
    "case_notes": "conversation_id",
    "relay": "conversation_id",
    # Telegram message ids per conversation (for quick exit's deletion): no words, but they say
    # who wrote to the bot and when, so they go with everything else.
    "channel_messages": "conversation_id",
    "conversations": "id",
}


async def migrate(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    version = int(row[0]) if row else 0
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        # DDL does not open a transaction implicitly: open one, so a migration applies whole.
        if not db.in_transaction:
            await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in filter(str.strip, script.split(";")):
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {number}")
            await db.commit()
        except BaseException:
            await db.rollback()
            raise
    return len(MIGRATIONS)
