"""The moderator console: accounts, sessions, sign-in throttling and the audit log."""
