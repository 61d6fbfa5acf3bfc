"""Notifications publish no events: they are the end of the line."""
