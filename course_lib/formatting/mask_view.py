"""Seeing the mask: the tokens of features coloured by training role (trained / masked / padding).
Taught in notebook 01 (the label mask)."""

from __future__ import annotations

import html
from dataclasses import dataclass

from .labels import IGNORE_INDEX


@dataclass
class MaskView:
    """Tokens of one or more features, coloured by role. Jupyter shows the HTML; ``print`` shows plain text.

    HTML: green = trained on (label = token), grey = masked prompt (label -100), faint = padding.
    Plain text: trained tokens are wrapped in ``[[ ]]``, padding is shown as ``·``.
    """

    rows: list  # per feature: list of (token_text, role) with role in {"trained", "masked", "pad"}

    def _repr_html_(self) -> str:
        style = {"trained": "background:#b7e4c7;color:#000", "masked": "background:#e9ecef;color:#555",
                 "pad": "background:#fff;color:#bbb"}
        parts = ['<div style="font-family:monospace;line-height:1.9">',
                 '<div><span style="background:#b7e4c7">&nbsp;trained (in the loss)&nbsp;</span> '
                 '<span style="background:#e9ecef">&nbsp;masked (-100)&nbsp;</span> '
                 '<span style="color:#bbb">&nbsp;padding&nbsp;</span></div>']
        for row in self.rows:
            spans = "".join(
                f'<span style="{style[role]};border-right:1px solid #fff;white-space:pre-wrap">'
                f'{html.escape(text).replace(chr(10), "↵<br>")}</span>' for text, role in row)
            parts.append(f'<div style="margin:6px 0;padding:4px;border:1px solid #ddd">{spans}</div>')
        parts.append("</div>")
        return "".join(parts)

    def _repr_png_(self) -> bytes:
        """A picture of the same colouring (:func:`course_lib.plotting.mask_figure`): Jupyter shows the HTML, but
        the PNG travels in the notebook's output too, so an executed notebook can be turned into images."""
        from ..plotting import figure_png, mask_figure

        return figure_png(mask_figure(self), dpi=110)

    def __str__(self) -> str:
        out = []
        for row in self.rows:
            text, inside = [], False
            for token, role in row:
                if role == "trained" and not inside:
                    text.append("[[")
                    inside = True
                elif role != "trained" and inside:
                    text.append("]]")
                    inside = False
                text.append("·" if role == "pad" else token)
            if inside:
                text.append("]]")
            out.append("".join(text))
        return "\n---\n".join(out)

    __repr__ = __str__


def show_mask(tokenizer, features, max_tokens: int = 400) -> MaskView:
    """Colour the tokens of ``features`` (a feature dict, a list of them, or a collated batch) by training role.

    Args:
        tokenizer: the tokenizer that produced the ids.
        features: ``{"input_ids", "labels", "attention_mask"?}`` with lists or tensors (2-D tensors = a batch).
        max_tokens: show at most this many tokens per row.
    """
    if isinstance(features, dict):
        ids = features["input_ids"]
        if hasattr(ids, "dim") and ids.dim() == 2:  # a collated batch
            features = [{k: v[i].tolist() for k, v in features.items()} for i in range(ids.shape[0])]
        else:
            features = [features]
    rows = []
    for f in features:
        ids = list(f["input_ids"].tolist() if hasattr(f["input_ids"], "tolist") else f["input_ids"])
        labels = list(f["labels"].tolist() if hasattr(f["labels"], "tolist") else f["labels"])
        mask = f.get("attention_mask")
        mask = list(mask.tolist() if hasattr(mask, "tolist") else mask) if mask is not None else None
        row = []
        for i, (tok, label) in enumerate(zip(ids[:max_tokens], labels[:max_tokens])):
            is_pad = (mask is not None and mask[i] == 0) or (mask is None and tok == tokenizer.pad_token_id
                                                             and label == IGNORE_INDEX)
            role = "pad" if is_pad else "trained" if label != IGNORE_INDEX else "masked"
            row.append((tokenizer.decode([tok]), role))
        rows.append(row)
    return MaskView(rows)
