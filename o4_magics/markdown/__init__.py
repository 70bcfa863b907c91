"""Reading a reply's markdown, shared by the call (``-f json`` / ``-f code``) and the display: markdown-it-py
with linear-time math rules, and what callers take out of a reply (code blocks, JSON)."""
