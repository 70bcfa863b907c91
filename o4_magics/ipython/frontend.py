"""Glue shared by the magics: options to a ``CallSpec``, the right view, --dry-run, -f/-o handling."""

from __future__ import annotations

import json
from typing import Any

from IPython.core.error import UsageError

from ..accounting.prices import prices_for
from ..call.engine import CallSpec, Reply, build_request, prompt_estimate
from ..call.threads import MAIN_THREAD
from ..display.view import MarkdownView, TerminalView, escape_dollars, is_terminal
from ..errors import O4Error
from .capture import current_cell

#: Output assumed for the estimate when --max-tokens is not set, by reasoning effort (typical, not a cap).
TYPICAL_OUTPUT = {"low": 800, "medium": 2000, "high": 6000}


def call_spec(magics: Any, args: Any, content: Any, *, source: str, images: int = 0) -> CallSpec:
    """A ``CallSpec`` from parsed options, with the settings as defaults."""
    max_tokens = args.max_tokens if args.max_tokens is not None else magics.max_tokens
    if max_tokens is not None and max_tokens <= 0:
        raise UsageError("--max-tokens must be a positive number.")
    shell = magics.shell
    return CallSpec(
        content=content,
        model=args.model or magics.model,
        effort=args.effort or magics.effort,
        system=magics.system_prompt if args.system is None else args.system,
        max_tokens=max_tokens,
        stream=magics.stream and not args.no_stream,
        format=args.format or "markdown",
        thread=args.thread or MAIN_THREAD,
        new=args.new,
        source=source,
        cell=current_cell(shell),
        images=images,
        cache=magics.cache if args.cache is None else args.cache,
    )


def make_view(magics: Any, spec: CallSpec) -> Any:
    base_url = magics.resolved_base_url()
    if is_terminal(magics.shell):
        return TerminalView(base_url=base_url)
    mode = "text" if spec.format == "text" else "markdown"
    return MarkdownView(base_url=base_url, mode=mode)


def _content_markdown(content: Any, placeholders: dict[str, str]) -> str:
    """A message's content for reading: text in a fence, images as placeholders with their size."""
    if isinstance(content, str):
        return f"````text\n{content}\n````"
    pieces = []
    for part in content:
        if part.get("type") == "text":
            pieces.append(f"````text\n{part.get('text', '')}\n````")
        elif part.get("type") == "image_url":
            url = part.get("image_url", {}).get("url", "")
            pieces.append(placeholders.get(url) or f"[image, {len(url):,} characters of data URL]")
    return "\n\n".join(pieces)


def dry_run_markdown(session: Any, spec: CallSpec, placeholders: dict[str, str] | None = None) -> str:
    """What --dry-run shows: the exact request (images as placeholders, no key) and its estimated cost."""
    placeholders = placeholders or {}
    kwargs = build_request(session, spec)
    fields = {key: value for key, value in kwargs.items() if key not in ("extra_body", "messages")}
    fields.update(kwargs.get("extra_body", {}))
    prices = prices_for(spec.model, session.known_prices(spec.model))
    prompt_tokens = prompt_estimate(kwargs["messages"])
    prompt_cost = prompt_tokens * prices.prompt
    if spec.max_tokens:
        output_note = f"up to {spec.max_tokens:,} output tokens (--max-tokens)"
        output_tokens = spec.max_tokens
    else:
        output_tokens = TYPICAL_OUTPUT.get(spec.effort, 2000)
        output_note = f"about {output_tokens:,} output tokens, typical at {spec.effort} effort (no cap set)"
    output_cost = output_tokens * prices.completion
    base_url = session.settings.resolved_base_url()
    lines = [
        "**Dry run: nothing was sent.**",
        "",
        f"`POST {base_url}/chat/completions` (headers `Authorization: Bearer ***`, `HTTP-Referer`, `X-Title`) with:",
        "",
        "```json",
        json.dumps(fields, indent=1, ensure_ascii=False),
        "```",
    ]
    for index, message in enumerate(kwargs["messages"]):
        history = " (history)" if message["role"] != "system" and index < len(kwargs["messages"]) - 1 else ""
        lines += ["", f"**{message['role']}**{history}", "", _content_markdown(message["content"], placeholders)]
    lines += [
        "",
        escape_dollars(
            f"Estimate: ~{prompt_tokens:,} input tokens (${prompt_cost:.5f}) + {output_note} "
            f"(${output_cost:.5f}) ≈ **${prompt_cost + output_cost:.5f}** with {spec.model}'s prices."
        ),
    ]
    return "\n".join(lines)


def store_and_return(magics: Any, args: Any, spec: CallSpec, reply: Reply) -> Any:
    """Apply -f code / -f json / -o NAME after a successful reply; return what the cell should output."""
    from ..markdown import code_blocks, parse_json_reply

    value: Any = reply.text
    if spec.format == "json":
        try:
            value = reply.parsed = parse_json_reply(reply.text)
        except ValueError as exc:
            raise O4Error(
                f"The reply is not valid JSON ({exc}).", hint="The text is shown above; ask again or use -f text."
            ) from None
    if spec.format == "code":
        blocks = code_blocks(reply.text)
        if blocks:
            magics.shell.set_next_input("\n\n".join(blocks), replace=False)
    if args.out:
        if not args.out.isidentifier():
            raise UsageError(f"-o needs a variable name, not {args.out!r}.")
        magics.shell.user_ns[args.out] = value
    return value if spec.format == "json" else None
