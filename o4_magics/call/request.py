"""The exact request of a call: system prompt, the thread's history, the user's message, OpenRouter's fields.

Used for sending and for ``--dry-run`` alike, so the dry run shows what would really go out. Every message
passes the redactor here, history included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .threads import message_tokens

if TYPE_CHECKING:
    from .session import Session
    from .spec import CallSpec

JSON_INSTRUCTION = "Answer with a single JSON object and nothing else."
CODE_INSTRUCTION = "Answer with one fenced Python code block (comments inside it are fine) and no prose around it."
#: Fields that change what is shown, not what the model answers: left out of the response cache's key.
DISPLAY_ONLY_FIELDS = ("stream", "stream_options")
#: OpenRouter body fields that say who asked, not what: left out of the response cache's key too.
ATTRIBUTION_FIELDS = ("user",)


def system_text(spec: CallSpec) -> str:
    extra = {"json": JSON_INSTRUCTION, "code": CODE_INSTRUCTION}.get(spec.format, "")
    tools = tools_instruction(spec)
    return "\n\n".join(part for part in (spec.system, tools, extra) if part)


def tools_instruction(spec: CallSpec) -> str:
    """What the system prompt says about the tools sent (empty without tools)."""
    if not spec.tools:
        return ""
    from .tools import instruction

    return instruction(spec.tools, private=spec.private)


def build_messages(session: Session, spec: CallSpec) -> list[dict[str, Any]]:
    """System prompt, the thread's bounded history, then the user's message.

    A private call is sent only the history of private calls: earlier turns may quote values.
    """
    messages: list[dict[str, Any]] = []
    system = system_text(spec)
    if system:
        messages.append({"role": "system", "content": system})
    if spec.history is not None:
        messages.extend(spec.history)
    elif not spec.new:
        messages.extend(
            session.threads.history(spec.thread, session.settings.history_max_tokens, private_only=spec.private)
        )
    messages.append({"role": "user", "content": spec.content})
    messages.extend(spec.extra_messages)
    redacted, _ = session.redactor.redact_value(messages)
    for sent, original in zip(redacted, messages, strict=True):
        if "reasoning_details" in original:  # passed back exactly as the model sent them (OpenRouter's rule)
            sent["reasoning_details"] = original["reasoning_details"]
    return redacted


def reasoning_field(spec: CallSpec) -> dict[str, Any]:
    """OpenRouter's ``reasoning`` object: the effort, and a summary to show, or none to save bytes."""
    if spec.show_reasoning:
        return {"effort": spec.effort, "summary": "auto"}
    return {"effort": spec.effort, "exclude": True}


def request_kwargs(spec: CallSpec, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Keyword arguments of ``client.chat.completions.create`` in OpenRouter's dialect."""
    kwargs: dict[str, Any] = {
        "model": spec.model,
        "messages": messages,
        "stream": spec.stream,
        # OpenRouter-only fields go in the body as they are: reasoning effort and usage accounting.
        "extra_body": {"reasoning": reasoning_field(spec), "usage": {"include": True}},
    }
    if spec.stream:
        kwargs["stream_options"] = {"include_usage": True}
    if spec.max_tokens:
        kwargs["max_tokens"] = spec.max_tokens
    if spec.format == "json":
        kwargs["response_format"] = {"type": "json_object"}
    if spec.tools:
        kwargs["tools"] = spec.tools
        kwargs["tool_choice"] = spec.tool_choice
    if spec.user:  # attribution: the team's OpenRouter activity splits by person
        kwargs["extra_body"]["user"] = spec.user
    return kwargs


def user_message_index(kwargs: dict[str, Any], spec: CallSpec) -> int:
    """Where the user's message sits in the request's messages (an agent step's exchange follows it)."""
    return len(kwargs["messages"]) - 1 - len(spec.extra_messages)


def build_request(session: Session, spec: CallSpec) -> dict[str, Any]:
    """The keyword arguments of the SDK call for ``spec`` (the exact request, for sending or --dry-run)."""
    return request_kwargs(spec, build_messages(session, spec))


def cache_fields(kwargs: dict[str, Any], base_url: str) -> dict[str, Any]:
    """What decides a reply, for the response cache's key: the endpoint and the request, minus display choices."""
    decisive = {key: value for key, value in kwargs.items() if key not in DISPLAY_ONLY_FIELDS}
    extra = {k: v for k, v in (decisive.get("extra_body") or {}).items() if k not in ATTRIBUTION_FIELDS}
    reasoning = {k: v for k, v in (extra.get("reasoning") or {}).items() if k not in ("summary", "exclude")}
    decisive["extra_body"] = {**extra, "reasoning": reasoning}
    return {"endpoint": base_url, **decisive}


def prompt_estimate(messages: list[dict[str, Any]], image_tokens: dict[str, int] | None = None) -> int:
    """Estimated prompt tokens of ``messages`` (offline; images at their real size when known)."""
    return 3 + sum(message_tokens(message, image_tokens) for message in messages)


def tools_tokens(tools: list[dict[str, Any]], upper: bool = False) -> int:
    """Prompt tokens of the tool definitions sent (the model reads them as part of the prompt)."""
    if not tools:
        return 0
    import json

    return message_tokens({"content": json.dumps(tools)}, upper=upper)


def prompt_upper_bound(messages: list[dict[str, Any]], image_tokens: dict[str, int] | None = None) -> int:
    """A safe upper bound of the prompt tokens, for refusals and the budget's worst case."""
    return 3 + sum(message_tokens(message, image_tokens, upper=True) for message in messages)
