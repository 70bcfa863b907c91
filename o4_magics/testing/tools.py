"""Tool calling: checking ``tools`` and the conversation's tool messages, the next calls, the final answer."""

from __future__ import annotations

import json
import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

from .directives import CallSpec
from .replies import message_text, split_anywhere

#: characters of each tool result the final answer quotes
QUOTED_CHARS = 300

_ID_ALPHABET = string.ascii_letters + string.digits
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def tool_names(body: dict[str, Any]) -> list[str]:
    """The function names the request's ``tools`` declare (empty when it has none)."""
    tools = body.get("tools")
    return [tool["function"]["name"] for tool in tools] if isinstance(tools, list) else []


def check_tools(body: dict[str, Any]) -> str | None:
    """What is wrong with the request's ``tools`` / ``tool_choice`` (None when they are fine or absent)."""
    tools = body.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list):
        return "Invalid 'tools': expected an array of function tools."
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            return f'Invalid \'tools[{index}]\': expected {{"type": "function", "function": {{...}}}}.'
        name = function.get("name")
        if not isinstance(name, str) or not _FUNCTION_NAME.fullmatch(name):
            return f"Invalid 'tools[{index}].function.name': {name!r} does not match ^[a-zA-Z0-9_-]{{1,64}}$."
        if "parameters" in function and not isinstance(function["parameters"], dict):
            return f"Invalid 'tools[{index}].function.parameters': expected a JSON schema object."
    choice = body.get("tool_choice")
    if choice is None or choice in ("none", "auto", "required"):
        return None
    forced = choice.get("function") if isinstance(choice, dict) else None
    if not isinstance(forced, dict) or forced.get("name") not in tool_names(body):
        return f"Invalid 'tool_choice': {json.dumps(choice)} names no function in 'tools'."
    return None


def check_tool_messages(messages: list[Any]) -> tuple[str, str] | None:
    """OpenAI's complaint and its ``param`` when a ``tool`` message answers no earlier call, or an
    assistant's ``tool_calls`` are not all answered by the ``tool`` messages right after it."""
    called: set[str] = set()
    pending: set[str] = set()
    pending_at = 0
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "tool":
            if message.get("tool_call_id") not in called:
                return (
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                    "with 'tool_calls'.",
                    f"messages.[{index}].role",
                )
            pending.discard(message.get("tool_call_id"))
            continue
        if pending:
            break
        ids = _call_ids(message) if role == "assistant" else []
        called.update(ids)
        pending, pending_at = set(ids), index
    if pending:
        return (
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            f"'tool_call_id'. The following tool_call_ids did not have response messages: "
            f"{', '.join(sorted(pending))}",
            f"messages.[{pending_at}].role",
        )
    return None


def _call_ids(message: dict[str, Any]) -> list[str]:
    calls = message.get("tool_calls")
    return [call.get("id") for call in calls if isinstance(call, dict)] if isinstance(calls, list) else []


def received_reasoning(messages: list[Any]) -> list[dict[str, Any]]:
    """The ``reasoning_details`` items the request's assistant messages carry back, in order."""
    return [
        item
        for message in messages
        if isinstance(message, dict) and message.get("role") == "assistant"
        for item in message.get("reasoning_details") or []
        if isinstance(item, dict)
    ]


def answered_steps(messages: list[Any], start: int) -> int:
    """How many steps of tool calls were made (and answered) after the steering message at ``start``."""
    return sum(
        1
        for message in messages[start + 1 :]
        if isinstance(message, dict) and message.get("role") == "assistant" and _call_ids(message)
    )


def tool_results(messages: list[Any], start: int) -> list[tuple[str, str]]:
    """(function name, result text) of each ``tool`` message after the steering message, in order."""
    names: dict[str, str] = {}
    results = []
    for message in messages[start + 1 :]:
        if not isinstance(message, dict):
            continue
        calls = message.get("tool_calls") if message.get("role") == "assistant" else None
        for call in calls if isinstance(calls, list) else []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                names[str(call.get("id"))] = str(function.get("name", "?"))
        if message.get("role") == "tool":
            name = names.get(str(message.get("tool_call_id")), "?")
            results.append((name, message_text(message.get("content"))))
    return results


def tools_answer(results: list[tuple[str, str]], images: int) -> str:
    """The final answer once every call was answered: it quotes the start of each result, in order."""
    lines = ["From the tools:", ""]
    lines += [f"- {name}: {text[:QUOTED_CHARS]}" for name, text in results]
    if images:
        lines += ["", f"I also looked at the {images} image(s) sent with the results."]
    return "\n".join(lines)


@dataclass
class ToolCall:
    """One call the reply makes: its index in the message, id, function name and arguments string."""

    index: int
    id: str
    name: str
    arguments: str

    @classmethod
    def make(cls, step: list[CallSpec]) -> list[ToolCall]:
        return [
            cls(
                index,
                "call_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24)),
                spec.name,
                spec.arguments,
            )
            for index, spec in enumerate(step)
        ]

    def deltas(self) -> list[dict[str, Any]]:
        """Streamed deltas: the call with its id and name and empty arguments, then the arguments in pieces."""
        first = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "index": self.index,
                    "id": self.id,
                    "type": "function",
                    "function": {"name": self.name, "arguments": ""},
                }
            ],
        }
        return [first] + [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"index": self.index, "function": {"arguments": piece}}],
            }
            for piece in split_anywhere(self.arguments)
        ]

    def message_item(self) -> dict[str, Any]:
        """The call as it appears in a non-streamed message's ``tool_calls``."""
        return {
            "id": self.id,
            "type": "function",
            "index": self.index,
            "function": {"name": self.name, "arguments": self.arguments},
        }

    def record(self) -> dict[str, Any]:
        """The call as recorded on the request (the shape a client sends back)."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }
