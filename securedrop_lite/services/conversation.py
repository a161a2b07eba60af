"""A request for a conversation: how and when the worker would like the ombuds to reach them.

It holds contact details, so it is encrypted to the ombuds key like a message, the inbox
shows only that one is waiting, and `sdlite purge` destroys it after
`conversation_request_days`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from securedrop_lite.services.sources import SourceIdentity
from securedrop_lite.services.submissions import TextItem

REQUEST_FILE_NAME = "conversation-request.txt"
MAX_CONTACT_CHARS = 500
MAX_TIMES_CHARS = 1000


class Channel(enum.Enum):
    PHONE = "phone"
    VIDEO = "video"
    MESSAGING = "messaging"


# For the ombuds, who reads the request on the air-gapped machine.
_CHANNEL_NAMES = {
    Channel.PHONE: "a phone call",
    Channel.VIDEO: "a video call",
    Channel.MESSAGING: "encrypted messaging (such as Signal)",
}


class RequestRefused(ValueError):
    """A field is missing or too long: "channel", "contact" or "times"."""


@dataclass(frozen=True)
class ConversationRequest:
    channel: str
    contact: str
    times: str
    language: str

    def check(self) -> Channel:
        try:
            channel = Channel(self.channel)
        except ValueError as exc:
            raise RequestRefused("channel") from exc
        if not self.contact.strip() or len(self.contact) > MAX_CONTACT_CHARS:
            raise RequestRefused("contact")
        if len(self.times) > MAX_TIMES_CHARS:
            raise RequestRefused("times")
        return channel

    def text(self) -> str:
        """Return the request as the ombuds will read it."""
        channel = self.check()
        times = self.times.strip() or "(none given)"
        return (
            "REQUEST FOR A CONVERSATION\n\n"
            f"The source asks to be contacted by {_CHANNEL_NAMES[channel]}.\n"
            f"Language of the source interface they used: {self.language}\n\n"
            f"Contact details:\n{self.contact.strip()}\n\n"
            f"Times that suit them:\n{times}\n\n"
            "These contact details may identify the source. Use them only for this "
            "conversation, and only as they asked.\n"
        )


class ConversationService:
    def __init__(self, submit_texts: Callable[[SourceIdentity, list[TextItem]], int]) -> None:
        self.submit_texts = submit_texts

    def request(self, identity: SourceIdentity, request: ConversationRequest) -> None:
        """Encrypt the request to the ombuds key and store it as the source's submission."""
        text = request.text().encode("utf-8")
        self.submit_texts(identity, [TextItem("talk", text, REQUEST_FILE_NAME)])
