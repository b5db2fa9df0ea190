"""A labelling session: one label per item, who decided it, and how long a person took (notebook 10)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError

# Who decided a label: a person clicking a category, or a person accepting the model's suggestion. Any other
# source is a default filled in before anyone looked (the name given to LabelSession.start: "shipped", "rule").
BY_PERSON = "you"
BY_ACCEPTING = "suggestion accepted"


@dataclass
class LabelSession:
    """N items being labelled with one of ``label_names`` each.

    Attributes:
        texts: the N items (ticket texts). label_names: the categories a label may take.
        labels: the current label of each item (a default until someone decides it).
        sources: who decided each label: the default's name (e.g. ``"shipped"``), :data:`BY_PERSON` or
            :data:`BY_ACCEPTING`.
        suggestions: the model's suggested label of each item, or ``None`` (no model assistance).
        seconds: seconds a person took for each decision in the widget, measured from showing the item to the
            click; ``None`` where no person decided.
        ids: an id per item (shown in the widget and the table). position: the item the widget shows.

    Headless nobody clicks, so the defaults stand: a notebook run without a front end labels every item with
    the stated default. Taught in notebook 10.
    """

    texts: list
    label_names: list
    labels: list
    sources: list
    suggestions: list | None = None
    seconds: list = field(default_factory=list)
    ids: list | None = None
    position: int = 0

    @classmethod
    def start(cls, texts, label_names, defaults, default_source: str = "rule", suggestions=None,
              ids=None) -> "LabelSession":
        """A session whose every label is ``defaults[i]``, decided by ``default_source``."""
        texts, label_names, defaults = [str(t) for t in texts], [str(x) for x in label_names], list(defaults)
        suggestions = None if suggestions is None else [str(s) for s in suggestions]
        lengths = {"defaults": len(defaults), **({"suggestions": len(suggestions)} if suggestions else {})}
        wrong = {name: n for name, n in lengths.items() if n != len(texts)}
        if wrong or not texts:
            raise ConfigError(f"{len(texts)} texts but {wrong or 'none'} — give one default label (and one "
                              "suggestion, if any) per text, and at least one text")
        if default_source in (BY_PERSON, BY_ACCEPTING):
            raise ConfigError(f"default_source {default_source!r} is reserved for decisions in the widget — name "
                              "where the defaults come from, e.g. 'shipped' or 'rule'")
        return cls(texts, label_names, [str(d) for d in defaults], [default_source] * len(texts), suggestions,
                   [None] * len(texts), None if ids is None else list(ids))

    def __len__(self) -> int:
        return len(self.texts)

    def set(self, index: int, label: str, by: str = BY_PERSON, seconds: float | None = None) -> None:
        """Label item ``index`` (a person's decision by default), with the seconds it took when measured."""
        if str(label) not in self.label_names:
            raise ConfigError(f"{label!r} is not one of the categories {self.label_names[:5]}... — pick one of "
                              "label_names")
        self.labels[index], self.sources[index], self.seconds[index] = str(label), by, seconds

    def accept(self, index: int, seconds: float | None = None) -> None:
        """Take the model's suggestion for item ``index``."""
        if self.suggestions is None:
            raise ConfigError("this session has no suggestions to accept — start it with suggestions=...")
        self.set(index, self.suggestions[index], BY_ACCEPTING, seconds)

    @property
    def decided(self) -> int:
        """How many items a person decided (clicked a category or accepted a suggestion)."""
        return sum(source in (BY_PERSON, BY_ACCEPTING) for source in self.sources)

    def progress(self) -> str:
        """``"12 of 658 decided by you (2 %), the rest: shipped"``."""
        defaults = sorted({s for s in self.sources if s not in (BY_PERSON, BY_ACCEPTING)})
        rest = f", the rest: {', '.join(defaults)}" if defaults else ""
        return f"{self.decided} of {len(self)} decided by you ({100 * self.decided / len(self):.0f} %){rest}"

    def table(self):
        """A DataFrame, one row per item: ``id``, ``text``, ``suggestion``, ``label``, ``decided by``,
        ``seconds``."""
        import pandas as pd

        return pd.DataFrame({"id": self.ids if self.ids is not None else range(len(self)), "text": self.texts,
                             "suggestion": self.suggestions or [None] * len(self), "label": self.labels,
                             "decided by": self.sources, "seconds": self.seconds})
