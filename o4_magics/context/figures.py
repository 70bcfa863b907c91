"""matplotlib Figures and Axes: what they show (titles, labels, artists) as text, and rendered to PNG bytes."""

from __future__ import annotations

import io
from typing import Any

from .blocks import Block, Section, fit_block, fmt_number, make_label, plural, short

MAX_AXES = 12
MAX_LABELS = 8


def is_kind(value: Any, module: str, names: tuple[str, ...]) -> bool:
    """Whether ``value``'s type, or a base class, is ``module``'s class named one of ``names``."""
    return any(
        cls.__module__.split(".")[0] == module and cls.__name__ in names for cls in type(value).__mro__
    )


def render_png(figure_or_axes: Any) -> bytes:
    """PNG bytes of a Figure (tight bounding box, at its dpi), or of one Axes cropped from its figure."""
    figure = figure_or_axes.figure if is_kind(figure_or_axes, "matplotlib", ("Axes",)) else figure_or_axes
    parent = getattr(figure, "figure", None)
    while parent is not None and parent is not figure:  # a SubFigure renders through its root figure
        figure, parent = parent, getattr(parent, "figure", None)
    bbox: Any = "tight"
    if figure_or_axes is not figure and is_kind(figure_or_axes, "matplotlib", ("Axes",)):
        try:
            renderer = figure.canvas.get_renderer()
            bbox = figure_or_axes.get_tightbbox(renderer).transformed(figure.dpi_scale_trans.inverted())
        except Exception:  # noqa: BLE001 - backends without a renderer: fall back to the whole figure
            bbox = "tight"
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=figure.dpi, bbox_inches=bbox)
    return buffer.getvalue()


def _axes_lines(axes: Any, private: bool) -> list[str]:
    """One line per fact about an Axes: counts of artists, and (not private) title, labels, limits, legend."""
    counts = {
        "line": len(axes.lines),
        "collection": len(axes.collections),
        "patch": len(axes.patches),
        "image": len(axes.images),
        "text": len(axes.texts),
    }
    artists = (
        ", ".join(plural(n, kind, "patches" if kind == "patch" else None) for kind, n in counts.items() if n)
        or "no artists"
    )
    if private:
        return [f"  {artists}"]
    lines = []
    title = axes.get_title() or axes.get_title("left") or axes.get_title("right")
    if title:
        lines.append(f"  title: {short(title, 100)}")
    for axis in ("x", "y"):
        label = getattr(axes, f"get_{axis}label")()
        low, high = getattr(axes, f"get_{axis}lim")()
        scale = getattr(axes, f"get_{axis}scale")()
        scale_text = f", {scale} scale" if scale != "linear" else ""
        lines.append(
            f"  {axis}: {short(label, 80) or '(no label)'}, {fmt_number(low)} to {fmt_number(high)}{scale_text}"
        )
    lines.append(f"  {artists}")
    labels = [h.get_label() for h in axes.lines + axes.collections if not str(h.get_label()).startswith("_")]
    if labels:
        more = f" (+{len(labels) - MAX_LABELS} more)" if len(labels) > MAX_LABELS else ""
        lines.append("  labels: " + ", ".join(short(str(x), 40) for x in labels[:MAX_LABELS]) + more)
    return lines


def _figure_size(figure: Any) -> str:
    """``640x480 px at 100 dpi``."""
    width, height = figure.get_size_inches() * figure.dpi
    return f"{round(width)}x{round(height)} px at {fmt_number(figure.dpi)} dpi"


def describe_figure(figure: Any, name: str, max_tokens: int, private: bool) -> Block:
    """A Figure: size, suptitle and each Axes' title, axis labels and limits, and artist counts."""
    axes_list = list(figure.axes)
    label = make_label(name, f"matplotlib Figure, {len(axes_list)} axes")
    notes = [f"size: {_figure_size(figure)}"]
    suptitle = getattr(figure, "_suptitle", None)
    if suptitle is not None and suptitle.get_text() and not private:
        notes.append(f"suptitle: {short(suptitle.get_text(), 100)}")
    lines = []
    for index, axes in enumerate(axes_list[:MAX_AXES]):
        lines.append(f"axes {index + 1}:")
        lines += _axes_lines(axes, private)
    section = Section("", lines, rank=1, what="lines", omitted=max(0, len(axes_list) - MAX_AXES))
    return fit_block(name, label, [Section("", notes), section], max_tokens)


def describe_axes(axes: Any, name: str, max_tokens: int, private: bool) -> Block:
    """An Axes: its title, axis labels and limits, artist counts, and which figure it belongs to."""
    figure = axes.figure
    label = make_label(name, "matplotlib Axes")
    notes = [f"in a figure of {len(figure.axes)} axes, {_figure_size(figure)}"]
    return fit_block(
        name, label, [Section("", notes), Section("", _axes_lines(axes, private), rank=1)], max_tokens
    )
