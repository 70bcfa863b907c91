"""Fault markers such as ``[[status:429:times=1]]`` that steer how the emulator answers one request."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# Markers, found in the last user message or queued with Emulator.queue_fault(); ``:times=N`` on any of them
# limits it to the first N requests carrying that exact marker:
#   [[status:CODE]] (options retry-after=S, times=N)  HTTP error with OpenRouter's error body
#   [[midstream-error]]  a few chunks, then an error chunk (finish_reason "error"), then the end
#   [[drop]] / [[drop:reset]]  a few chunks, then the connection closes (FIN: clean EOF) or resets (RST)
#   [[malformed]]  a few chunks, then "data: {not json", then the rest as usual
#   [[delay:S]] before the headers; [[think:S]] keep-alive comments before the first token;
#   [[slow:S]] S between pieces (default 0.2); [[stall:S]] silence after a few chunks
#   [[long:N]] N words; [[empty]]; [[length]] cut, finish_reason "length"; [[no-usage]]; [[chunked]] framing
# Markers are read in the steering user message (the last one that is not a tool-result attachment), before
# any [[verbatim]]. Directives that say what the reply holds live in directives.py: [[reasoning...]],
# [[call:NAME:{args}]], [[verbatim]]; Emulator.queue_reply(text) queues a verbatim reply.
#: marker names the emulator understands; any other ``[[...]]`` text is left alone (it may be code)
FAULT_NAMES = (
    "status",
    "midstream-error",
    "drop",
    "malformed",
    "delay",
    "think",
    "slow",
    "stall",
    "long",
    "empty",
    "length",
    "no-usage",
    "chunked",
)

_NAMES_PATTERN = "|".join(re.escape(name) for name in sorted(FAULT_NAMES, key=len, reverse=True))
_MARKER = re.compile(r"\[\[(" + _NAMES_PATTERN + r")(?::([^\[\]\n]*))?\]\]")


class FaultError(ValueError):
    """A marker was recognised but its argument or options make no sense."""


@dataclass
class Fault:
    """One parsed marker: ``[[name:arg:key=value...]]``."""

    name: str
    arg: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    marker: str = ""

    def seconds(self, default: float | None = None) -> float:
        """The argument read as a number of seconds (``default`` when absent)."""
        if self.arg is None:
            if default is None:
                raise FaultError(f"{self.marker} needs a number of seconds, e.g. [[{self.name}:1.5]]")
            return default
        return _number(self, self.arg, float)

    def count(self) -> int:
        """The argument read as a whole number (status code, word count)."""
        if self.arg is None:
            raise FaultError(f"{self.marker} needs a number, e.g. [[{self.name}:500]]")
        return _number(self, self.arg, int)

    @property
    def times(self) -> int | None:
        """How many matching requests this marker affects (``times=N``), or None for all of them."""
        value = self.options.get("times")
        return None if value is None else _number(self, value, int)


def _number(fault: Fault, text: str, kind: Callable[[str], float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise FaultError(f"{fault.marker}: {text!r} is not a number") from None
    if value < 0:
        raise FaultError(f"{fault.marker}: {text!r} must not be negative")
    return value


def find_faults(text: str) -> list[Fault]:
    """Every known marker in ``text``, in order of appearance."""
    faults = []
    for match in _MARKER.finditer(text):
        name, rest = match.group(1), match.group(2)
        arg, options = None, {}
        for part in rest.split(":") if rest else []:
            key, sep, value = part.partition("=")
            if sep:
                options[key.strip().lower()] = value.strip()
            elif arg is None and part.strip():
                arg = part.strip()
        faults.append(Fault(name, arg, options, match.group(0)))
    return faults


def strip_markers(text: str) -> str:
    """``text`` without its fault markers (so replies never echo them)."""
    return _MARKER.sub("", text)


@dataclass
class Plan:
    """What the emulator will do for one chat request, after combining its markers."""

    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    think: float = 0.0
    slow: float = 0.0
    stall: float = 0.0
    long_words: int | None = None
    empty: bool = False
    length: bool = False
    no_usage: bool = False
    midstream_error: bool = False
    drop: str | None = None
    malformed: bool = False
    chunked: bool = False
    markers: list[str] = field(default_factory=list)

    @property
    def marker_text(self) -> str | None:
        """The applied markers joined, as recorded on the request (None when there are none)."""
        return "".join(self.markers) or None


def _status(plan: Plan, fault: Fault) -> None:
    code = fault.count()
    if not 400 <= code <= 599:
        raise FaultError(f"{fault.marker}: status must be an HTTP error code (400-599)")
    plan.status = code
    plan.retry_after = fault.options.get("retry-after", plan.retry_after)


def _drop(plan: Plan, fault: Fault) -> None:
    mode = fault.arg or "close"
    if mode not in ("close", "reset"):
        raise FaultError(f"{fault.marker}: drop mode must be 'close' (default) or 'reset'")
    plan.drop = mode


def _set(attribute: str, value: object) -> Callable[[Plan, Fault], None]:
    return lambda plan, fault: setattr(plan, attribute, value)


_APPLY: dict[str, Callable[[Plan, Fault], None]] = {
    "status": _status,
    "drop": _drop,
    "delay": lambda plan, fault: setattr(plan, "delay", fault.seconds()),
    "think": lambda plan, fault: setattr(plan, "think", fault.seconds()),
    "slow": lambda plan, fault: setattr(plan, "slow", fault.seconds(0.2)),
    "stall": lambda plan, fault: setattr(plan, "stall", fault.seconds()),
    "long": lambda plan, fault: setattr(plan, "long_words", fault.count()),
    "midstream-error": _set("midstream_error", True),
    "malformed": _set("malformed", True),
    "empty": _set("empty", True),
    "length": _set("length", True),
    "no-usage": _set("no_usage", True),
    "chunked": _set("chunked", True),
}


def make_plan(faults: Iterable[Fault]) -> Plan:
    """Combine markers into one plan; a later marker of the same kind wins. Raises FaultError."""
    plan = Plan()
    for fault in faults:
        fault.times  # noqa: B018 - validates the option early
        _APPLY[fault.name](plan, fault)
        plan.markers.append(fault.marker)
    return plan
