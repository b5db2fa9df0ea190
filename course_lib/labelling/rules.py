"""The second labeller, written down: a keyword rule for the support categories, and the category descriptions
the encoder's zero-shot suggestions are measured against (notebook 10)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

# The label a rule gives a ticket that none of its keywords matches (a person would ask; the rule says so).
UNMATCHED = "unmatched"

# The stated rule for data/support/ tickets: categories in the order they are tried, each with the phrases that
# decide it (lower case, matched as substrings of the lower-cased ticket). The first category with a matching
# phrase wins, so the specific ones come first and the broad ones ("plan", device names) last: a ticket that says
# "I'm on the Windows app" in passing is about devices only when nothing else matches. Written by reading a few
# tickets of each category, as a help desk writes its first routing rules; it is not tuned to the data.
SUPPORT_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("import", ("import", "evernote", "enex", "move my notes over")),
    ("export", ("export", "copy of my notes")),
    ("collaboration", ("collaborator", "can join", "share a notebook with")),
    ("sharing", ("shared link", "public note", "share a note but")),
    ("team", ("team member", "seats", "our team")),
    ("security", ("vault", "encrypt", "two-factor", "2fa", "two-step")),
    ("support", ("live chat", "talk to someone")),
    ("settings", ("dark mode", "dark theme", "too bright")),
    ("shortcuts", ("shortcut", "hotkey", "keyboard", "quickly")),
    ("search", ("search", "text in my pictures", "inside photos")),
    ("mobile", ("offline", "without internet")),
    ("sync", ("sync", "conflicted copy", "other devices")),
    ("integrations", ("web pages", "calendar", "browser extension", "outlook", "integration")),
    ("troubleshooting", ("won't open", "loops", "logs me out", "notes go", "gone from", "crash")),
    ("account", ("password reset", "reset link", "storage limit")),
    ("billing", ("cost", "price", "charged", "refund", "cheaper", "money back", "how much is")),
    ("plans", ("free account", "free plan", "storage", "how much can i keep", "plan")),
    ("notes", ("deleted", "restore", "older version", "earlier version", "tags", "trash")),
    ("editing", ("table", "template", "remind", "notification", "attach")),
    ("devices", ("android", "windows", "ipad", "iphone", "install", "run on")),
)

# One sentence per support category for zero-shot suggestions by the nearest description
# (``model_choice.similarity_classify`` with the MiniLM encoder): what a ticket of that category asks about.
SUPPORT_DESCRIPTIONS: dict[str, str] = {
    "account": "The customer asks about their account: a password reset link, or how much of their storage they use.",
    "billing": "The customer asks about money: what a plan costs, discounts, a charge or a refund.",
    "collaboration": "The customer asks how many people can collaborate on a shared notebook.",
    "devices": "The customer asks which phones, tablets, computers or operating system versions the app runs on.",
    "editing": "The customer asks how to edit a note: tables, templates, reminders or attaching files.",
    "export": "The customer wants to export their notes, for example as PDF.",
    "import": "The customer wants to import notes from another app such as Evernote.",
    "integrations": "The customer asks about integrations: calendar, Outlook, a browser extension, saving web pages.",
    "mobile": "The customer asks about reading notes offline on the mobile app without internet.",
    "notes": "The customer asks about deleted notes, the trash, older versions of a note or tags.",
    "plans": "The customer asks what each plan includes: storage limits and how many devices.",
    "search": "The customer asks whether search finds text inside images and scanned photos.",
    "security": "The customer asks about security: two-factor login, encrypted notebooks, the vault password.",
    "settings": "The customer asks about display settings such as dark mode.",
    "sharing": "The customer asks how to share a note by link and protect it with a password.",
    "shortcuts": "The customer asks for keyboard shortcuts, for example to create a new note or search.",
    "support": "The customer asks when live chat support is available and how to talk to a person.",
    "sync": "The customer asks about syncing notes between devices and sync conflicts.",
    "team": "The customer is a team admin asking how to add or remove team members and manage seats.",
    "troubleshooting": "The customer reports a problem: the app will not open, sign-in fails or notes disappeared.",
}


@dataclass(frozen=True)
class KeywordRule:
    """A stated, inspectable labelling rule: the first category whose phrase occurs in the text wins.

    Attributes:
        keywords: ``((category, (phrase, ...)), ...)`` in the order tried; phrases are matched as lower-case
            substrings of the lower-cased text.
        fallback: the label of a text no phrase matches (:data:`UNMATCHED`: the rule does not guess).

    Taught in notebook 10, as the second labeller whose agreement with the shipped categories is measured.
    """

    keywords: tuple = SUPPORT_KEYWORDS
    fallback: str = UNMATCHED

    def __post_init__(self):
        if not self.keywords:
            raise ConfigError("a KeywordRule needs at least one (category, phrases) entry")
        for entry in self.keywords:
            if len(entry) != 2 or isinstance(entry[1], str) or not entry[1]:
                raise ConfigError(f"rule entry {entry!r} must be (category, (phrase, ...)) with at least one "
                                  "phrase — write the phrases as a tuple, not one string")

    @property
    def categories(self) -> list[str]:
        """The categories the rule can give, in the order tried (the fallback not included)."""
        return [category for category, _ in self.keywords]

    def label(self, text: str) -> str:
        """The category of one text, or :attr:`fallback`."""
        return self.explain(text)[0]

    def explain(self, text: str) -> tuple[str, str | None]:
        """``(category, the phrase that decided it)``; the phrase is ``None`` for the fallback."""
        lowered = str(text).lower()
        for category, phrases in self.keywords:
            for phrase in phrases:
                if phrase.lower() in lowered:
                    return category, phrase
        return self.fallback, None

    def labels(self, texts) -> list[str]:
        """The category of each of N texts (a list of N strings)."""
        return [self.label(text) for text in texts]

    def with_phrase(self, category: str, phrase: str, first: bool = False) -> "KeywordRule":
        """A copy with ``phrase`` added to ``category`` (a new category is tried last, or first when
        ``first``); ``first`` also moves an existing category to the front."""
        entries = [(c, tuple(p)) for c, p in self.keywords]
        names = [c for c, _ in entries]
        if category in names:
            at = names.index(category)
            entry = (category, (*entries.pop(at)[1], phrase))
        else:
            at, entry = len(entries), (category, (phrase,))
        entries.insert(0 if first else at, entry)
        return KeywordRule(tuple(entries), self.fallback)
