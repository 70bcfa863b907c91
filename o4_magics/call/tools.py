"""The agent's tools: their JSON schemas, the read-only look-ups (``list_variables``, ``describe``, ``look_at``)
run on the user's namespace, and what goes back to the model after the user ran a proposed cell (``run_code``).

A tool never raises for what the model sent: bad JSON, an unknown tool or variable, a wrong argument all become
a result saying what was wrong. With ``private`` a tool reads structure only (names, types, shapes, null
counts), never a cell's value.
"""

from __future__ import annotations

import difflib
import json
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import O4Error

if TYPE_CHECKING:
    from .session import Session

LOOKUPS = ("list_variables", "describe", "look_at")
RUN_CODE = "run_code"
#: Variables ``list_variables`` lists at most (the rest are counted).
MAX_LISTED = 200
#: Images one ``look_at`` or one run cell sends at most.
MAX_IMAGES = 4
#: Characters of a tool's result the reply's collapsed line shows when opened.
SHOWN_CHARS = 3000
#: IPython's own names in a user namespace (``user_ns_hidden`` holds the rest).
IPYTHON_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython", "open"})
_MISSING = object()

_NAME = {"type": "string", "description": "A variable's name, as list_variables gives it."}
SCHEMAS: dict[str, dict[str, Any]] = {
    "list_variables": {
        "description": "List the user's variables: name, type, shape and size (no values). Read-only.",
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
    },
    "describe": {
        "description": (
            "Describe one variable as a compact summary (a dataframe's schema, null counts, statistics and sample "
            "rows). Optionally narrow a dataframe to some columns and/or a range of row positions. Read-only."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "name": _NAME,
                "columns": {"type": "array", "items": {"type": "string"}, "description": "Columns to keep."},
                "rows": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "minItems": 2,
                    "maxItems": 2,
                    "description": "[start, stop): row positions to keep, as in df.iloc[start:stop].",
                },
            },
            "required": ["name"],
            "additionalProperties": False,
        },
    },
    "look_at": {
        "description": (
            "Look at an image: a figure or image variable, 'last' (the last image a cell displayed) or a cell "
            "number (the images that cell displayed). The image follows the tool results. Read-only."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "image": {"type": "string", "description": "A variable's name, 'last', or a cell number."}
            },
            "required": ["image"],
            "additionalProperties": False,
        },
    },
    RUN_CODE: {
        "description": (
            "Propose a Python cell to run in the user's notebook (their variables are there). It runs only if the "
            "user approves it; you get its stdout, stderr, the value of its last expression, displayed images "
            "and any exception. Keep cells short, and do not modify the user's data unless asked."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "The Python code of the cell."},
                "why": {"type": "string", "description": "One sentence for the user: what the cell is for."},
            },
            "required": ["code", "why"],
            "additionalProperties": False,
        },
    },
}


def tool_schemas(run_code: bool = False) -> list[dict[str, Any]]:
    """The ``tools`` of a request: the look-ups, and ``run_code`` in the chat's agent mode."""
    names = [*LOOKUPS, RUN_CODE] if run_code else list(LOOKUPS)
    return [{"type": "function", "function": {"name": name, **SCHEMAS[name]}} for name in names]


def instruction(tools: list[dict[str, Any]], *, private: bool = False) -> str:
    """The system prompt's paragraph about the tools sent."""
    names = [tool["function"]["name"] for tool in tools]
    text = (
        "You can look at the user's notebook with tools that only read: list_variables, describe and look_at. "
        "Use them when the answer depends on the data; do not ask the user to paste it."
    )
    if RUN_CODE in names:
        text += (
            " You can also propose a cell with run_code; the user approves each one before it runs, and may edit "
            "or skip it."
        )
    if private:
        text += " Privacy mode is on: the tools give structure only (names, types, shapes, null counts), no values."
    return text


@dataclass
class ToolResult:
    """What one tool call gave: the ``tool`` message's text, images to send after it, the reply's line."""

    text: str
    line: str
    images: list[Any] = field(default_factory=list)
    failed: bool = False

    @property
    def tokens(self) -> int:
        from ..context import estimate_tokens

        return estimate_tokens(self.text) + sum(image.tokens for image in self.images)


class ToolProblem(Exception):
    """What the model sent cannot be used; the message is the tool's result."""


def parse_arguments(name: str, arguments: str) -> dict[str, Any]:
    """A call's arguments as a dict; a ``ToolProblem`` when they are not a JSON object."""
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError as error:
        where = f" ({error.msg} at character {error.pos})" if isinstance(error, json.JSONDecodeError) else ""
        raise ToolProblem(
            f"The arguments of {name} are not valid JSON{where}; send a JSON object such as {example(name)}."
        ) from None
    except RecursionError:
        raise ToolProblem(f"The arguments of {name} nest too deeply; send a flat JSON object.") from None
    if not isinstance(parsed, dict):
        raise ToolProblem(f"The arguments of {name} must be a JSON object such as {example(name)}.")
    return parsed


def example(name: str) -> str:
    return {
        "describe": '{"name": "df"}',
        "look_at": '{"image": "last"}',
        RUN_CODE: '{"code": "...", "why": "..."}',
    }.get(name, "{}")


def listable(name: str, value: Any, hidden: Mapping[str, Any]) -> bool:
    """A user's own value: no ``_`` names, nothing IPython put there, no modules, no imported functions or
    classes (those defined in the notebook are listed)."""
    if name.startswith("_") or name in IPYTHON_NAMES or hidden.get(name, _MISSING) is value:
        return False
    if isinstance(value, (types.ModuleType, types.BuiltinFunctionType)):
        return False
    if isinstance(value, (type, types.FunctionType)):
        return getattr(value, "__module__", None) == "__main__"
    return True


def _kind(value: Any) -> tuple[str, str]:
    """(top-level package, class name) of ``value``'s type, e.g. ("pandas", "DataFrame")."""
    cls = type(value)
    return cls.__module__.split(".")[0], cls.__name__


def _size_text(nbytes: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if nbytes < 1000 or unit == "GB":
            return f"{nbytes:,} {unit}" if unit == "bytes" else f"{nbytes:,.1f} {unit}"
        nbytes /= 1000
    return ""  # pragma: no cover


def shape_and_size(value: Any) -> tuple[str, str]:
    """A value's shape and memory size, read only from kinds where that is cheap (no property of an unknown
    object is read: it could start a Spark job)."""
    package, name = _kind(value)
    try:
        if package in ("pandas", "numpy", "polars") and hasattr(value, "shape"):
            shape = " x ".join(f"{n:,}" for n in value.shape) or "scalar"
            if package == "pandas":
                used = value.memory_usage(index=True, deep=False)
                nbytes = int(used.sum() if hasattr(used, "sum") else used)
            elif package == "polars":
                nbytes = int(value.estimated_size())
            else:
                nbytes = int(value.nbytes)
            return shape, _size_text(nbytes)
        if isinstance(value, (str, bytes, bytearray)):
            return f"{len(value):,} characters" if isinstance(value, str) else f"{len(value):,} bytes", ""
        if isinstance(value, (list, tuple, set, frozenset, dict)):
            return f"{len(value):,} items", ""
    except Exception:  # an odd object: its type is enough
        return "", ""
    return "", ""


class Toolbox:
    """The look-ups over one namespace (the user's variables) and the display capture (images cells showed).

    ``private`` keeps every value out: structure only, and no images.
    """

    def __init__(
        self,
        session: Session,
        namespace: Mapping[str, Any] | None,
        *,
        capture: Any = None,
        hidden: Mapping[str, Any] | None = None,
        private: bool = False,
    ) -> None:
        self.session = session
        self.namespace = namespace if namespace is not None else {}
        self.capture = capture
        self.hidden = hidden or {}
        self.private = private

    @property
    def budget(self) -> int:
        return int(self.session.settings.context_max_tokens)

    def call(self, name: str, arguments: str) -> ToolResult:
        """Run look-up ``name`` with its JSON ``arguments``; any problem is a result saying what was wrong."""
        handler = {
            "list_variables": self.list_variables,
            "describe": self.describe,
            "look_at": self.look_at,
        }.get(name)
        try:
            if handler is None:
                raise ToolProblem(f"There is no tool named {name!r}; the tools are {', '.join(LOOKUPS)}.")
            return handler(**self._arguments(name, arguments))
        except ToolProblem as problem:
            return ToolResult(str(problem), f"{name}: {short_problem(str(problem))}", failed=True)
        except Exception as error:  # an odd value: the model hears what failed, the loop goes on
            detail = "" if self.private else f": {short_problem(str(error), 200)}"
            text = f"{name} failed with {type(error).__name__}{detail}."
            return ToolResult(text, f"{name}: failed with {type(error).__name__}", failed=True)

    def _arguments(self, name: str, arguments: str) -> dict[str, Any]:
        parsed = parse_arguments(name, arguments)
        allowed = set(SCHEMAS[name]["parameters"]["properties"])
        unknown = sorted(set(parsed) - allowed)
        if unknown:
            raise ToolProblem(
                f"{name} takes no argument {', '.join(map(repr, unknown))}; it takes {example(name)}."
            )
        missing = [arg for arg in SCHEMAS[name]["parameters"].get("required", []) if arg not in parsed]
        if missing:
            raise ToolProblem(f"{name} needs {', '.join(missing)}, e.g. {example(name)}.")
        return parsed

    # -- list_variables ----------------------------------------------------------------------------------
    def variables(self) -> list[tuple[str, Any]]:
        return [
            (name, value)
            for name, value in list(self.namespace.items())
            if listable(name, value, self.hidden)
        ]

    def list_variables(self) -> ToolResult:
        from ..context.blocks import type_name

        found = sorted(self.variables(), key=lambda item: item[0].lower())
        rows = ["name | type | shape | size"]
        for name, value in found[:MAX_LISTED]:
            shape, size = shape_and_size(value)
            rows.append(" | ".join([name, type_name(type(value)), shape, size]).rstrip(" |"))
        if len(found) > MAX_LISTED:
            rows.append(f"(and {len(found) - MAX_LISTED:,} more not listed)")
        text = "\n".join(rows) if found else "The notebook has no variables yet."
        count = f"{len(found):,} variable{'s' if len(found) != 1 else ''}"
        return self._fitted(text, f"listed the variables ({count})")

    def _fitted(self, text: str, what: str) -> ToolResult:
        from ..context import estimate_tokens

        limit = 4 * self.budget
        if len(text) > limit:
            text = text[:limit] + "\n[… cut at O4Magics.context_max_tokens]"
        return ToolResult(text, f"{what} · {estimate_tokens(text):,} tokens")

    # -- describe --------------------------------------------------------------------------------------
    def value(self, name: Any) -> Any:
        """The user's variable ``name``; a ``ToolProblem`` naming close matches when there is none."""
        if not isinstance(name, str) or not name:
            raise ToolProblem("name must be a variable's name, as list_variables gives it.")
        value = self.namespace.get(name, _MISSING)
        if value is _MISSING or not listable(name, value, self.hidden):
            close = difflib.get_close_matches(name, [known for known, _ in self.variables()], n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else " list_variables() lists them."
            raise ToolProblem(f"There is no variable named {name!r}.{hint}")
        return value

    def describe(self, name: Any, columns: Any = None, rows: Any = None) -> ToolResult:
        from .content import describe

        value = self.value(name)
        narrowed, how = narrow(value, columns, rows)
        try:
            block = describe(self.session, name, narrowed, private=self.private)
        except O4Error as error:
            raise ToolProblem(f"{name} could not be described: {error}") from None
        return self._fitted(block, f"looked at `{name}`{how}")

    # -- look_at ---------------------------------------------------------------------------------------
    def look_at(self, image: Any) -> ToolResult:
        if self.private:
            raise ToolProblem("Privacy mode (--private) is on: images are cell values, and none is sent.")
        ref = str(image).strip() if isinstance(image, (str, int)) and not isinstance(image, bool) else ""
        if not ref:
            raise ToolProblem("image must be a variable's name, 'last', or a cell number.")
        sources, what = self._image_sources(ref)
        parts = [self._image_part(source, ref) for source in sources[:MAX_IMAGES]]
        placeholders = ", ".join(part.placeholder() for part in parts)
        text = f"{what}: {len(parts)} image(s), sent in the next message ({placeholders})."
        if len(sources) > MAX_IMAGES:
            text += f" {len(sources) - MAX_IMAGES} more were not sent."
        result = ToolResult(text, "", images=parts)
        result.line = f"looked at {what} · {result.tokens:,} tokens"
        return result

    def _image_sources(self, ref: str) -> tuple[list[Any], str]:
        capture = self.capture
        if ref.lower() == "last":
            found = capture.last_image() if capture is not None else None
            if found is None:
                raise ToolProblem("No cell has displayed an image yet.")
            return [found.data], "the last image displayed"
        number = ref.strip("[]")
        if number.isdigit():
            images = capture.images_of_cell(int(number)) if capture is not None else []
            if not images:
                raise ToolProblem(f"Cell [{number}] displayed no image (that this kernel remembers).")
            return [image.data for image in images], f"the image(s) cell [{number}] displayed"
        return [self.value(ref)], f"the image `{ref}`"

    def _image_part(self, source: Any, ref: str) -> Any:
        from .content import image_part

        try:
            return image_part(self.session, source, ref)
        except O4Error as error:
            raise ToolProblem(str(error).replace("; nothing was sent.", "")) from None


def short_problem(text: str, limit: int = 80) -> str:
    first = text.split(". ")[0].rstrip(".")
    return first if len(first) <= limit else first[: limit - 1] + "…"


def narrow(value: Any, columns: Any, rows: Any) -> tuple[Any, str]:
    """``value`` narrowed to ``columns`` and ``rows`` [start, stop) when it is a dataframe, series or array;
    a ``ToolProblem`` saying what is wrong otherwise."""
    if columns is None and rows is None:
        return value, ""
    package, kind = _kind(value)
    frame = (package, kind) in (("pandas", "DataFrame"), ("polars", "DataFrame"))
    if not frame and not (package in ("pandas", "polars", "numpy") and kind in ("Series", "ndarray")):
        raise ToolProblem(
            "columns and rows narrow dataframes, series and arrays only; call describe without them."
        )
    how = []
    if columns is not None:
        if not frame:
            raise ToolProblem("columns narrow dataframes only; this value has none.")
        if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
            raise ToolProblem('columns must be a non-empty list of column names, e.g. ["price", "store"].')
        known = [str(column) for column in value.columns]
        unknown = [column for column in columns if column not in known]
        if unknown:
            listed = ", ".join(known[:50]) + (f" and {len(known) - 50} more" if len(known) > 50 else "")
            raise ToolProblem(f"No column named {', '.join(map(repr, unknown))}; the columns are {listed}.")
        value = value[columns] if package == "pandas" else value.select(columns)
        how.append("columns " + ", ".join(columns))
    if rows is not None:
        if not (isinstance(rows, list) and len(rows) == 2 and all(type(n) is int for n in rows)):
            raise ToolProblem("rows must be [start, stop], two whole numbers, e.g. [0, 100].")
        start, stop = rows
        value = value.iloc[start:stop] if package == "pandas" else value[start:stop]
        how.append(f"rows {start}–{stop}")
    return value, f" ({' · '.join(how)})"


# -- run_code: what goes back to the model after the user decided -----------------------------------------


@dataclass
class CellOutcome:
    """A proposed cell after the user decided: ran (``ok``, ``error``, ``interrupted``) or ``skipped``."""

    status: str
    code: str
    why: str = ""
    edited: bool = False
    cell: int | None = None
    stdout: str = ""
    stderr: str = ""
    has_value: bool = False
    value: Any = None
    #: images the cell displayed: (mime, bytes)
    images: list[tuple[str, bytes]] = field(default_factory=list)
    error: BaseException | None = None
    traceback: str = ""
    #: every output the cell displayed, as mime bundles (the chat shows them; images also go to the model)
    displayed: list[dict[str, Any]] = field(default_factory=list)


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters: its start and its end, the cut said in the middle."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    return f"{text[:head]}\n[… {len(text) - limit:,} characters cut …]\n{text[len(text) - tail :]}"


def code_result(session: Session, outcome: CellOutcome, *, private: bool = False) -> ToolResult:
    """The ``run_code`` result the model gets: what the cell printed, its value, images and exception, each cut
    to ``O4Magics.context_max_tokens``; with ``private`` only the structure of what happened."""
    from .content import describe

    budget = int(session.settings.context_max_tokens)
    limit = 4 * budget
    cell = f"cell [{outcome.cell}]" if outcome.cell is not None else "the cell"
    if outcome.status == "skipped":
        return ToolResult("The user skipped this cell; it did not run.", "skipped a proposed cell")
    heading = {
        "ok": f"The user ran {cell}.",
        "error": f"The user ran {cell}; it raised an exception.",
        "interrupted": f"The user ran {cell}; it was interrupted before it finished.",
    }.get(outcome.status, f"The user ran {cell}.")
    parts = [heading]
    if outcome.edited:
        parts.append(
            f"The user edited the code first; it ran as:\n```python\n{cut(outcome.code, limit)}\n```"
        )
    for label, text in (("stdout", outcome.stdout.rstrip("\n")), ("stderr", outcome.stderr.rstrip("\n"))):
        if text:
            if private:
                parts.append(f"{label}: {len(text.splitlines()):,} line(s), not sent (privacy mode).")
            else:
                parts.append(f"{label}:\n```\n{cut(text, limit)}\n```")
    if outcome.has_value:
        parts.append(
            "Value of the last expression:\n" + describe(session, "value", outcome.value, private=private)
        )
    if outcome.error is not None:
        if private:
            parts.append(
                f"Exception: {type(outcome.error).__name__} (its message is not sent: privacy mode)."
            )
        else:
            parts.append(f"Exception:\n```\n{cut(outcome.traceback or repr(outcome.error), limit)}\n```")
    images: list[Any] = []
    if outcome.images:
        if private:
            parts.append(f"It displayed {len(outcome.images)} image(s), not sent (privacy mode).")
        else:
            images = [_displayed_part(session, data) for _, data in outcome.images[:MAX_IMAGES]]
            images = [image for image in images if image is not None]
            parts.append(
                f"It displayed {len(outcome.images)} image(s); {len(images)} sent in the next message."
            )
    if len(parts) == 1 and outcome.status == "ok":
        parts.append("It printed nothing and had no value.")
    result = ToolResult("\n\n".join(parts), "", images=images, failed=outcome.status != "ok")
    verb = {"error": "ran {cell}: it raised", "interrupted": "ran {cell}: interrupted"}.get(
        outcome.status, "ran {cell}"
    )
    result.line = f"{verb.format(cell=cell)} · {result.tokens:,} tokens"
    return result


def _displayed_part(session: Session, data: bytes) -> Any:
    from .content import image_part

    try:
        return image_part(session, data, "run_code")
    except O4Error:
        return None
