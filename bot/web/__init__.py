"""The ASGI app that `supportbot run` serves (webhook now; widget and console later)."""
