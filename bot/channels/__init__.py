"""Channels translate platform events into `Inbound` and deliver `Effect`s back."""
