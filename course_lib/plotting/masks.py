"""The label-mask visualiser as a picture: which tokens are in the loss (notebooks 01, 03)."""

from __future__ import annotations

from .canvas import _figure


_MASK_COLOURS = {"trained": "#b7e4c7", "masked": "#e9ecef", "pad": "#ffffff"}


def mask_figure(view, width_chars: int = 96, max_lines: int = 14):
    """The label-mask visualiser (:class:`~course_lib.formatting.MaskView`) as a picture: one box per token, green
    when the token is in the loss, grey when masked (-100), white for padding; each example starts a new line.

    Args:
        view: a ``MaskView`` (``rows``: per example, a list of ``(token_text, role)``).
        width_chars: characters per line of the monospace layout before a line wraps.
        max_lines: lines drawn at most (the rest is cut, with "…" on the last line).
    """
    lines: list[list[tuple[str, str, int]]] = []  # per line: (text, role, column)
    for row in view.rows:
        line, column = [], 0
        for text, role in row:
            shown = text.replace("\n", "↵")
            if column + len(shown) > width_chars and line:
                lines.append(line)
                line, column = [], 0
            line.append((shown, role, column))
            column += max(1, len(shown))
            if text.endswith("\n"):
                lines.append(line)
                line, column = [], 0
        if line:
            lines.append(line)
        lines.append([])  # a blank line between examples
    cut = len(lines) > max_lines
    lines = lines[:max_lines]
    # 8-point monospace characters are ~4.8 points (0.067 in) wide: one axis unit per character.
    fig = _figure(0.067 * width_chars + 0.3, 0.28 * (len(lines) + 1.5))
    ax = fig.add_subplot()
    ax.set_xlim(0, width_chars)
    ax.set_ylim(len(lines) + 1, -0.5)
    ax.axis("off")
    for y, line in enumerate(lines, start=1):
        for text, role, x in line:
            ax.text(x, y, text, family="monospace", fontsize=8, va="center", ha="left",
                    color="#bbbbbb" if role == "pad" else "#000000",
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": _MASK_COLOURS[role], "edgecolor": "white",
                          "linewidth": 0.5})
    if cut:
        ax.text(0, len(lines) + 0.6, "…", fontsize=9)
    for k, (role, label) in enumerate((("trained", "trained (in the loss)"), ("masked", "masked (-100)"),
                                       ("pad", "padding"))):
        ax.text(30 * k, 0, label, fontsize=8, va="center", bbox={"boxstyle": "square,pad=0.2",
                "facecolor": _MASK_COLOURS[role], "edgecolor": "#cccccc", "linewidth": 0.5})
    return fig
