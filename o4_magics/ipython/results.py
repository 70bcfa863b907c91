"""After a reply: ``-f code`` puts its code into a new cell, ``-o NAME`` stores the reply (``-f json``: parsed).

The rule for ``-o``: NAME gets the reply (text, or the parsed JSON) when the call succeeds in the asked
format; when the call fails or the reply is not JSON, NAME is set to None, so an older value never passes
for the new one.
"""

from __future__ import annotations

from typing import Any

#: Fence languages that go into a Python cell as they are; shell code becomes a %%bash cell.
PYTHON_LANGS = ("python", "py", "python3", "ipython", "")
SHELL_LANGS = ("bash", "sh", "shell", "zsh", "console")


def _code_blocks(markdown: str) -> list[tuple[str, str]]:
    from ..markdown.extract import code_blocks

    return code_blocks(markdown)


def code_cell(reply_text: str) -> tuple[str | None, str]:
    """The new cell's source for ``-f code`` (None when there is none) and a note saying what was done."""
    blocks = _code_blocks(reply_text)
    python = [code for lang, code in blocks if lang.lower() in PYTHON_LANGS]
    if python:
        return "\n\n".join(python), ""
    shell = [code for lang, code in blocks if lang.lower() in SHELL_LANGS]
    if shell:
        return "%%bash\n" + "\n\n".join(shell), "-f code: the reply's code is shell code, put in a %%bash cell below."
    if blocks:
        langs = ", ".join(sorted({lang or "unlabelled" for lang, _ in blocks}))
        return None, f"-f code: the reply's code is {langs}, not Python; no cell was added."
    return None, "-f code: the reply holds no code block; no cell was added."


def store_and_return(shell: Any, fmt: str, out: str | None, reply: Any) -> Any:
    """Apply -f code / -f json / -o NAME after a successful reply; return what the cell should output."""
    value: Any = reply.parsed if fmt == "json" else reply.text
    if fmt == "code":
        source, note = code_cell(reply.text)
        if source is not None:
            shell.set_next_input(source, replace=False)
        if note:
            print(f"o4: {note}")
    if out:
        shell.user_ns[out] = value
    return value if fmt == "json" else None
