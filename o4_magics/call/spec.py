"""The one door: what a front end asked for (``Ask``) becomes a validated ``CallSpec``, with the same defaults,
rules and messages for ``%%o4``, ``%o4``, ``%o4_explain``, the chat and ``ask()``.

Front ends only say what the user asked: the prompt, the options they gave, and values or images to attach.
``prepare`` checks every option before anything is sent (an ``InvalidRequest`` names the option as that front
spells it), fills the rest from the settings, and builds the user's message (``call.content``).
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequest
from .settings import EFFORTS, FORMATS
from .threads import MAIN_THREAD

if TYPE_CHECKING:
    from .session import Session

#: How each front spells each option in messages; ``ask()`` uses keyword names.
MAGIC_NAMES = {
    "prompt": "the prompt",
    "model": "-m/--model",
    "effort": "-e/--effort",
    "system": "-s/--system",
    "max_tokens": "--max-tokens",
    "thread": "-t/--thread",
    "format": "-f/--format",
    "out": "-o/--out",
    "vars": "-v/--var",
    "images": "-i/--image",
    "tools": "--tools",
}
ASK_NAMES = {name: f"{name}=" for name in MAGIC_NAMES} | {"prompt": "the prompt"}
SOURCES = ("magic", "explain", "chat", "ask", "agent")


@dataclass
class Ask:
    """What a front end asks for, exactly as the user gave it (None: use the setting)."""

    prompt: Any
    source: str = "ask"
    model: Any = None
    effort: Any = None
    system: Any = None
    max_tokens: Any = None
    thread: Any = None
    new: bool = False
    stream: Any = None
    format: Any = None
    cache: Any = None
    private: Any = None
    #: values attached as labelled blocks: a mapping of name -> value
    values: Any = None
    #: images: figures, PIL images, bytes, arrays, paths, or ready ``ImagePart`` objects
    images: Any = None
    cell: int | None = None
    show_reasoning: Any = None
    #: the look-up tools (``--tools``, the chat's agent mode, ``ask(tools=True)``): the model may read variables
    tools: Any = None
    #: also offer ``run_code`` (the chat's agent mode only: each cell waits for the user's approval)
    run_code: bool = False
    #: how this front spells each option, for messages
    names: dict[str, str] = field(default_factory=lambda: dict(ASK_NAMES))


@dataclass
class CallSpec:
    """Everything decided about one call, validated; the engine runs exactly this."""

    content: str | list[dict[str, Any]]
    model: str
    effort: str = "medium"
    system: str = ""
    max_tokens: int | None = None
    stream: bool = True
    format: str = "markdown"  # markdown | text | code | json
    thread: str = MAIN_THREAD
    new: bool = False
    source: str = "magic"  # one of SOURCES
    cell: int | None = None
    images: int = 0
    cache: bool = False
    private: bool = False
    show_reasoning: bool = True
    #: credentials replaced in the user's message (the dry run and the footer say how many)
    redactions: int = 0
    #: data URL -> "[image 800x600 PNG, ...]" for the dry run
    placeholders: dict[str, str] = field(default_factory=dict)
    #: image token estimates, by data URL (real sizes, not the 1024x1024 worst case)
    image_tokens: dict[str, int] = field(default_factory=dict)
    #: function tools sent with the request (JSON-schema ``tools``); empty: none (see ``call.tools``)
    tools: list[dict[str, Any]] = field(default_factory=list)
    #: ``tool_choice`` when tools are sent: "auto", or "none" on an agent question's last allowed step
    tool_choice: str = "auto"
    #: an agent question's exchange so far, sent after the user's message: assistant tool calls, tool results
    extra_messages: list[dict[str, Any]] = field(default_factory=list)
    #: the thread's history to send instead of reading the thread (an agent question reads it once)
    history: list[dict[str, Any]] | None = None
    #: file the exchange in the thread when it succeeds (an agent question files only its last step)
    file_turn: bool = True
    #: OpenRouter's ``user`` field: who asks, when ``O4Magics.send_user`` (or the hub policy) says so; else ""
    user: str = ""


def _text(value: Any, name: str, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be text, not {type(value).__name__}; nothing was sent.")
    if not empty_ok and not value.strip():
        raise InvalidRequest(f"{name} is empty; nothing was sent.")
    return value


def check_model(value: Any, name: str) -> str:
    model = _text(value, name).strip()
    if any(ch.isspace() for ch in model):
        raise InvalidRequest(f"{name} must be a model id such as openai/o4-mini, not {value!r}; nothing was sent.")
    return model


def check_effort(value: Any, name: str) -> str:
    effort = _text(value, name).strip().lower()
    if effort not in EFFORTS:
        raise InvalidRequest(f"{name} must be one of {', '.join(EFFORTS)}, not {value!r}; nothing was sent.")
    return effort


def check_max_tokens(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidRequest(f"{name} must be a positive whole number, not {value!r}; nothing was sent.")
    return int(value)


def check_format(value: Any, name: str) -> str:
    fmt = _text(value, name).strip().lower()
    if fmt not in FORMATS:
        raise InvalidRequest(f"{name} must be one of {', '.join(FORMATS)}, not {value!r}; nothing was sent.")
    return fmt


def check_thread(value: Any, name: str) -> str:
    return _text(value, name).strip()


def check_out_name(value: Any, name: str = "-o/--out") -> str:
    """A variable name for ``-o``: an identifier that is not a keyword (checked before anything is sent)."""
    out = _text(value, name).strip()
    if not out.isidentifier() or keyword.iskeyword(out):
        raise InvalidRequest(f"{name} needs a plain variable name, not {value!r}; nothing was sent.")
    return out


def check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be True or False, not {value!r}; nothing was sent.")
    return value


def _setting(ask: Any, field_name: str, settings: Any) -> tuple[Any, str]:
    """The value in effect for ``field_name`` and how to name it: the front's option, else the setting."""
    value = getattr(ask, field_name)
    if value is not None:
        return value, ask.names.get(field_name, field_name)
    setting = {"system": "system_prompt"}.get(field_name, field_name)
    return getattr(settings, setting), f"O4Magics.{setting}"


def check_options(ask: Ask, settings: Any) -> dict[str, Any]:
    """Every option of ``ask`` checked and defaulted from ``settings``; raises ``InvalidRequest``."""
    if ask.source not in SOURCES:
        raise InvalidRequest(f"unknown source {ask.source!r}")
    prompt = _text(ask.prompt, ask.names.get("prompt", "the prompt"))
    model = check_model(*_setting(ask, "model", settings))
    effort = check_effort(*_setting(ask, "effort", settings))
    system = _text(*_setting(ask, "system", settings), empty_ok=True)
    max_tokens = check_max_tokens(*_setting(ask, "max_tokens", settings))
    fmt = check_format(ask.format if ask.format is not None else "markdown", ask.names.get("format", "format"))
    thread = check_thread(ask.thread if ask.thread is not None else MAIN_THREAD, ask.names.get("thread", "thread"))
    flags = {
        name: check_flag(*_setting(ask, name, settings)) for name in ("stream", "cache", "private")
    }
    show_reasoning = check_flag(*_setting(ask, "show_reasoning", settings))
    tools = False if ask.tools is None else check_flag(ask.tools, ask.names.get("tools", "tools"))
    return {
        "prompt": prompt, "model": model, "effort": effort, "system": system, "max_tokens": max_tokens,
        "format": fmt, "thread": thread, "new": check_flag(ask.new, "new"), "show_reasoning": show_reasoning,
        "tools": tools, **flags,
    }


def prepare(session: Session, ask: Ask) -> CallSpec:
    """Validate ``ask`` and build its user message; nothing is sent, and any problem is an ``InvalidRequest``."""
    from .content import build_content
    from .policy import effective_send_user, enforce

    options = enforce(session, ask, check_options(ask, session.settings))  # the hub policy: refused, or capped
    content = build_content(session, options["prompt"], ask, private=options["private"])
    return CallSpec(
        content=content.content,
        model=options["model"],
        effort=options["effort"],
        system=options["system"],
        max_tokens=options["max_tokens"],
        stream=options["stream"],
        format=options["format"],
        thread=options["thread"],
        new=options["new"],
        source=ask.source,
        cell=ask.cell,
        images=content.images,
        cache=options["cache"],
        private=options["private"],
        show_reasoning=options["show_reasoning"],
        redactions=content.redactions,
        placeholders=content.placeholders,
        image_tokens=content.image_tokens,
        tools=_tool_schemas(options["tools"], ask.run_code),
        user=_user() if effective_send_user(session.settings) else "",
    )


def _user() -> str:
    from ..store.user import current_user

    return current_user()


def _tool_schemas(tools: bool, run_code: bool) -> list[dict[str, Any]]:
    if not tools:
        return []
    from .tools import tool_schemas

    return tool_schemas(run_code=run_code)
