"""The built-in moderation policy: terms and regular expressions per category, read from a text file.

The format (``default_policy.txt`` is the example shipped)::

    # a comment
    [violence/graphic]            # a category; the rules below belong to it
    review term: gore             # a word or phrase, matched whole and case-insensitively
    block regex: \\bbehead(ing|ed)?\\b   # a Python regular expression, case-insensitive

``block`` refuses a prompt before anything is queued; ``review`` lets it
through and holds its images for staff. A line that is not one of these is an
error naming the file and line, as is a regular expression that does not
compile.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from images.moderation.base import ALLOW, Verdict

logger = logging.getLogger(__name__)

_SECTION = re.compile(r"^\[\s*([^\]\s][^\]]*?)\s*\]$")
_RULE = re.compile(r"^(block|review)\s+(term|regex)\s*:\s*(.+)$", re.IGNORECASE)
DEFAULT_POLICY_FILE = Path(__file__).with_name("default_policy.txt")


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the line."""


@dataclass(frozen=True)
class Rule:
    category: str
    action: str  # "block" or "review"
    pattern: re.Pattern[str]
    line: int


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]

    def check(self, text: str) -> Verdict:
        """``block`` if a block rule matches, else ``review`` if a review rule does; the matching categories."""
        matched = [rule for rule in self.rules if rule.pattern.search(text)]
        if not matched:
            return ALLOW
        blocking = [rule for rule in matched if rule.action == "block"]
        chosen = blocking or matched
        categories = tuple(dict.fromkeys(rule.category for rule in chosen))
        return Verdict(action="block" if blocking else "review", categories=categories,
                       scores=dict.fromkeys(categories, 1.0))  # fmt: skip


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    """The policy in ``text``; ``PolicyError`` naming ``source`` and the line for anything wrong."""
    rules: list[Rule] = []
    category: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if section := _SECTION.match(line):
            category = section.group(1).lower()
            continue
        rule = _RULE.match(line)
        if rule is None:
            raise PolicyError(f"{source}:{number}: expected [category] or '<block|review> <term|regex>: value', "
                              f"got {raw.strip()[:80]!r}")  # fmt: skip
        if category is None:
            raise PolicyError(f"{source}:{number}: a rule before the first [category]")
        action, kind, value = rule.group(1).lower(), rule.group(2).lower(), rule.group(3).strip()
        if kind == "term":
            words = r"\s+".join(re.escape(word) for word in value.split())
            expression = rf"(?<!\w){words}(?!\w)"
        else:
            expression = value
        try:
            pattern = re.compile(expression, re.IGNORECASE)
        except re.error as exc:
            raise PolicyError(f"{source}:{number}: bad regular expression {value!r}: {exc}") from None
        rules.append(Rule(category=category, action=action, pattern=pattern, line=number))
    return Policy(rules=tuple(rules))


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """The policy in the file at ``path`` (``PolicyError`` if it cannot be read or parsed)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read the moderation policy: {exc}") from None
    return parse_policy(text, source=str(path))


class PolicyFile:
    """A policy file, read again whenever it changes (its modification time or size), without a restart.

    A change that breaks the file is logged and the last good policy stays in
    force; the first read raises instead, so a bad file stops the start.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp = self._current_stamp()
        self._policy = load_policy(self.path)

    def _current_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def policy(self) -> Policy:
        stamp = self._current_stamp()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    try:
                        self._policy = load_policy(self.path)
                        logger.info("moderation policy reloaded", extra={"path": str(self.path)})
                    except PolicyError as exc:
                        logger.error(
                            "moderation policy not reloaded; the previous one stays", extra={"error": str(exc)}
                        )
                    self._stamp = stamp
        return self._policy
