"""``MODERATION_PROVIDER=builtin``: the policy file's terms and regexes, offline.

It reads words, not pixels: prompts are checked against the policy, and an
image is checked through its text (the service passes its prompt and title to
``check_text``); ``check_image`` itself finds nothing.
"""

from __future__ import annotations

from django.conf import settings

from images.moderation.base import ALLOW, Verdict
from images.moderation.policy import DEFAULT_POLICY_FILE, PolicyFile


class BuiltinModerator:
    name = "builtin"

    def __init__(self) -> None:
        self.file = PolicyFile(settings.MODERATION_POLICY_FILE or DEFAULT_POLICY_FILE)

    def check_text(self, text: str) -> Verdict:
        """The policy's verdict on ``text``, the file read again if it changed."""
        return self.file.policy().check(text)

    def check_image(self, data: bytes, *, content_type: str) -> Verdict:
        return ALLOW
