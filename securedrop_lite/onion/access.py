"""What a change of users does at the onion service, told to the admin who made it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from securedrop_lite.onion.control import TorError
from securedrop_lite.onion.publisher import OnionPublisher

log = logging.getLogger("sdlite.onion")


@dataclass(frozen=True)
class AccessUpdate:
    """What became of a change of users at the onion service, to tell the admin."""

    applied: bool
    message: str


def apply_user_change(onion: OnionPublisher) -> AccessUpdate:
    """Republish the ombuds service after users or their keys changed; never raise.

    The change is already in the database, so any failure here must reach the admin
    as a warning, not as an error page that hides what happened.
    """
    if not onion.configured:
        return AccessUpdate(
            False,
            "sdlite does not manage the onion services here (no tor_control). If a torrc "
            "HiddenServiceDir serves the ombuds interface, run `sdlite onion export-clients` "
            "and reload tor so this change takes effect.",
        )
    try:
        status = onion.refresh_clients()
    except Exception as exc:  # reported to the admin, whatever it was
        reason = str(exc) if isinstance(exc, TorError) else type(exc).__name__
        log.error("republishing the ombuds onion service failed: %s", type(exc).__name__)
        return AccessUpdate(
            False,
            f"The ombuds onion service was NOT updated ({reason}). Until `sdlite onion up` "
            "succeeds it may be down, or still admit the old list of client keys.",
        )
    return AccessUpdate(
        True, f"The ombuds onion service now admits {status.client_keys} client key(s)."
    )
