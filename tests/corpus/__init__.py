"""Tricky replies and untrusted payloads, with what a user must see when they render."""
