"""The options of ``%o4`` / ``%%o4`` / ``%o4_explain``: declared once, split from the prompt text safely.

A prompt is free text (quotes, apostrophes, dashes), so the line is not shell-split whole: leading option
tokens are read until the first word that is not an option (or ``--``); the rest is the prompt, verbatim.
"""

from __future__ import annotations

import argparse
import re
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument

_TOKEN = re.compile(r"""\s*("(?:\\.|[^"\\])*"|'[^']*'|\S+)""")
_NUMBER = re.compile(r"-\.?\d")

CALL_ARGUMENTS = [
    argument("-m", "--model", help="OpenRouter model id (default: O4Magics.model, openai/o4-mini)."),
    argument("-e", "--effort", choices=["low", "medium", "high"], help="Reasoning effort (default: medium)."),
    argument("-s", "--system", help="System prompt for this call (replaces O4Magics.system_prompt)."),
    argument("-v", "--var", action="append", default=[], metavar="NAME", help="Attach a variable (repeatable)."),
    argument("-i", "--image", action="append", default=[], metavar="REF",
             help="Attach an image: a variable, a path, 'last', or a cell number N (repeatable)."),
    argument("-n", "--new", action="store_true", help="Start a fresh conversation in the thread."),
    argument("-t", "--thread", metavar="NAME", help="Use the named conversation thread (default: main)."),
    argument("--max-tokens", type=int, metavar="N", help="Cap on completion tokens (reasoning included)."),
    argument("-f", "--format", choices=["markdown", "text", "code", "json"],
             help="markdown (default); text; code: put the code into a new cell below; json: parse the reply."),
    argument("-o", "--out", metavar="NAME", help="Also store the reply (text, or parsed JSON) in variable NAME."),
    argument("--no-stream", action="store_true", help="Wait for the whole reply instead of streaming it."),
    argument("--dry-run", action="store_true", help="Show the exact request and its estimated cost; send nothing."),
    argument("--cache", dest="cache", action="store_true", default=None,
             help="Replay an identical earlier request from the response cache at no cost."),
    argument("--no-cache", dest="cache", action="store_false", help="Force a fresh call."),
    argument("--private", action="store_true", default=None,
             help="Describe attached values by structure only, never their contents."),
    argument("--no-interp", action="store_true", help="Send the prompt as written: no {name} interpolation."),
    argument("--no-reasoning", action="store_true",
             help="Do not show o4-mini's reasoning summary (default: O4Magics.show_reasoning)."),
    argument("--tools", action="store_true", default=None,
             help="Let the model look at your variables and images with read-only tools (list_variables, "
                  "describe, look_at) before answering; at most O4Magics.agent_max_steps calls."),
]


def with_call_arguments(func: Any) -> Any:
    """Apply every option of CALL_ARGUMENTS to a magic (innermost decorators come last)."""
    for decorator in reversed(CALL_ARGUMENTS):
        func = decorator(func)
    return func


def _unquote(token: str) -> str:
    if token[:1] in "\"'":
        if len(token) < 2 or token[-1] != token[0]:
            raise UsageError(f"unterminated quote in {token!r}; close it or drop the quote.")
        return shlex.split(token)[0]
    return token


def _split_attached(parser: argparse.ArgumentParser, token: str) -> list[str]:
    """``-vdf`` → ``-v df`` and ``-e=low`` → ``-e low`` for short options that take a value (argparse forms)."""
    if token.startswith("--") or len(token) <= 2:
        return [token]
    action = parser._option_string_actions.get(token[:2])
    if action is None or action.nargs == 0:
        return [token]
    value = token[3:] if token[2] == "=" else token[2:]
    return [token[:2], _unquote(value)]


def split_options(parser: argparse.ArgumentParser, line: str) -> tuple[argparse.Namespace, str]:
    """Parse the leading options of ``line``; return them and the rest of the line (the prompt), verbatim."""
    option_tokens: list[str] = []
    position = 0
    expecting_value = False
    while True:
        match = _TOKEN.match(line, position)
        if not match:
            break
        token = match.group(1)
        if expecting_value:
            option_tokens.append(_unquote(token))
            expecting_value = False
            position = match.end()
            continue
        if token == "--":
            position = match.end()
            break
        if not token.startswith("-") or token == "-" or _NUMBER.match(token):
            break
        pieces = _split_attached(parser, token)
        name = pieces[0].split("=", 1)[0] if pieces[0].startswith("--") else pieces[0]
        action = parser._option_string_actions.get(name)
        if action is None:
            magic = (parser.prog or "%o4").split()[0]
            magic = magic if magic.startswith("%") else f"%{magic}"
            raise UsageError(
                f"unknown option {name!r}; {magic}? lists the options (use -- before a prompt that starts with '-')."
            )
        option_tokens.extend(pieces)
        expecting_value = action.nargs != 0 and "=" not in pieces[0] and len(pieces) == 1
        position = match.end()
    if expecting_value:
        raise UsageError(f"option {option_tokens[-1]!r} needs a value.")
    args = parser.parse_args(option_tokens)
    return args, line[position:].strip()
