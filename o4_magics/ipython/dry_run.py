"""``--dry-run``: the exact request that would be sent (images as placeholders, no key, credentials redacted),
its estimated tokens and cost, and whether the budget would refuse it. Nothing is sent."""

from __future__ import annotations

import json
from typing import Any

from ..accounting.budget import refusal, worst_case
from ..accounting.estimate import estimate_call
from ..call.endpoint import safe_url
from ..call.request import build_request, prompt_estimate, prompt_upper_bound
from ..display.render import escape_money


def _fence(text: str, lang: str = "text") -> str:
    """``text`` in a code fence longer than any backtick run inside it (so nothing in it renders)."""
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(4, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def _content_markdown(content: Any, placeholders: dict[str, str], tool_calls: Any = None) -> str:
    """A message's content for reading: text in a fence, images as placeholders with their size, an agent
    turn's tool calls (content None) as ``name(arguments)`` lines."""
    if content is None:
        calls = [call.get("function", {}) for call in tool_calls or []]
        return _fence("\n".join(f"{call.get('name')}({call.get('arguments', '')})" for call in calls))
    if isinstance(content, str):
        return _fence(content)
    pieces = []
    for part in content:
        if part.get("type") == "text":
            pieces.append(_fence(part.get("text", "")))
        elif part.get("type") == "image_url":
            url = part.get("image_url", {}).get("url", "")
            pieces.append(placeholders.get(url) or f"[image, {len(url):,} characters of data URL]")
    return "\n\n".join(pieces)


def _budget_line(session: Any, spec: Any, upper: int) -> str:
    cap = session.settings.budget_usd
    if cap is None:
        return ""
    worst = worst_case(spec.model, upper, spec.max_tokens, session.known_prices(spec.model))
    spent = session.spent()
    if spent + worst.usd <= cap:
        return f"Budget: within the cap (worst case ${worst.usd:.5f}; ${spent:.5f} of ${cap:g} spent)."
    return "**The budget would refuse this call.** " + str(refusal(float(cap), spent, 0.0, worst))


def dry_run_markdown(session: Any, spec: Any) -> str:
    """What --dry-run shows: the exact request and its estimated cost."""
    kwargs = build_request(session, spec)
    fields = {key: value for key, value in kwargs.items() if key not in ("extra_body", "messages")}
    fields.update(kwargs.get("extra_body", {}))
    messages = kwargs["messages"]
    prompt_tokens = prompt_estimate(messages, spec.image_tokens)
    estimate = estimate_call(spec.model, spec.effort, prompt_tokens, spec.max_tokens, session.known_prices(spec.model))
    url = safe_url(session.settings.resolved_base_url())
    lines = [
        "**Dry run: nothing was sent.**",
        "",
        f"`POST {url}/chat/completions` (headers `Authorization: Bearer ***`, `HTTP-Referer`, `X-Title`) with:",
        "",
        _fence(json.dumps(fields, indent=1, ensure_ascii=False), "json"),
    ]
    for index, message in enumerate(messages):
        history = " (history)" if message["role"] != "system" and index < len(messages) - 1 else ""
        lines += ["", f"**{message['role']}**{history}", "", _content_markdown(message["content"], spec.placeholders, message.get("tool_calls"))]
    if spec.redactions:
        lines += ["", f"🔒 {spec.redactions} credential{'s' if spec.redactions != 1 else ''} redacted from the message."]
    if spec.private:
        lines += ["", "🔒 --private: values described by structure only; only earlier private turns are sent."]
    summary = (
        f"Estimate: ~{prompt_tokens:,} input tokens (${estimate.prompt_usd:.5f}) + {estimate.output_note} "
        f"(${estimate.output_usd:.5f}) ≈ **${estimate.usd:.5f}** with {spec.model}'s prices."
    )
    lines += ["", escape_money(summary)]
    budget = _budget_line(session, spec, prompt_upper_bound(messages, spec.image_tokens))
    if budget:
        lines += ["", escape_money(budget)]
    return "\n".join(lines)
