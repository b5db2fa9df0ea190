"""The labelling widget: one ticket at a time, a button per category, the model's suggestion, progress
(notebook 10). Headless it is drawn but nobody clicks, so the session's defaults stand."""

from __future__ import annotations

import html
import time

from ..notebook import ipywidgets_or_none
from .session import LabelSession


def labelling_widget(session: LabelSession):
    """An ipywidgets labeller over ``session``: shows item ``session.position``; a click on a category (or on
    "accept suggestion") labels it, records the seconds since it was shown, and moves to the next item.

    Returns the widget box, or ``None`` without ipywidgets (the defaults then decide every item, as headless).
    """
    widgets = ipywidgets_or_none(f"the defaults ({session.sources[0]}) label every item")
    if widgets is None:
        return None
    view = _View(widgets, session)
    return view.box


class _View:
    """The widget's parts and what a click does; ``box`` is what the notebook shows."""

    def __init__(self, widgets, session: LabelSession):
        self.session = session
        self.text = widgets.HTML()
        self.progress = widgets.IntProgress(min=0, max=len(session), description="decided")
        self.status = widgets.Label()
        self.buttons = [widgets.Button(description=name, layout=widgets.Layout(width="auto"))
                        for name in session.label_names]
        for button in self.buttons:
            button.on_click(lambda b: self.decide(b.description))
        self.accept = widgets.Button(description="accept suggestion", button_style="success",
                                     disabled=session.suggestions is None)
        self.accept.on_click(lambda _b: self.decide(None))
        back, skip = widgets.Button(description="< back"), widgets.Button(description="skip >")
        back.on_click(lambda _b: self.move(-1))
        skip.on_click(lambda _b: self.move(+1))
        choices = widgets.Box(self.buttons, layout=widgets.Layout(flex_flow="row wrap"))
        self.box = widgets.VBox([self.text, widgets.HBox([self.accept, back, skip]), choices,
                                 widgets.HBox([self.progress, self.status])])
        self.shown_at = time.perf_counter()
        self.show()

    def show(self) -> None:
        s, i = self.session, self.session.position
        ident = f" ({html.escape(str(s.ids[i]))})" if s.ids is not None else ""
        hint = f"<br>suggested: <b>{html.escape(s.suggestions[i])}</b>" if s.suggestions is not None else ""
        self.text.value = (f"<b>ticket {i + 1} of {len(s)}{ident}</b><br>{html.escape(s.texts[i])}{hint}"
                           f"<br><i>now: {html.escape(s.labels[i])} ({html.escape(s.sources[i])})</i>")
        self.progress.value = s.decided
        self.status.value = s.progress()
        self.shown_at = time.perf_counter()

    def decide(self, label: str | None) -> None:
        """Label the shown item (``None``: accept the suggestion), then show the next one."""
        seconds = time.perf_counter() - self.shown_at
        if label is None:
            self.session.accept(self.session.position, seconds)
        else:
            self.session.set(self.session.position, label, seconds=seconds)
        self.move(+1)

    def move(self, step: int) -> None:
        self.session.position = min(max(self.session.position + step, 0), len(self.session) - 1)
        self.show()
