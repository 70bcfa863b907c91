"""An offline, OpenRouter-compatible emulator (stdlib only) for tests, demos and CI: ``Emulator().start()``."""

from .server import Emulator, RecordedRequest

__all__ = ["Emulator", "RecordedRequest"]
