"""Supportbot: a calm, private support bot for people being blackmailed with intimate images."""

__version__ = "0.1.0"
