"""Tor onion services through stem: the source service, and the ombuds service behind
per-user client authorization."""

from securedrop_lite.onion.access import AccessUpdate, apply_user_change
from securedrop_lite.onion.control import (
    OnionNotConfigured,
    TorBusy,
    TorError,
    TorMissing,
    TorRefused,
    TorUnreachable,
)
from securedrop_lite.onion.endpoint import ControlEndpoint
from securedrop_lite.onion.keys import (
    ClientKeyPair,
    OnionKeyError,
    ServiceKey,
    auth_private_line,
    authorized_client_line,
    read_address,
)
from securedrop_lite.onion.publisher import (
    OnionPublisher,
    OnionSettings,
    OnionStatus,
    ensure_keys,
)

__all__ = [
    "AccessUpdate",
    "ClientKeyPair",
    "ControlEndpoint",
    "OnionKeyError",
    "OnionNotConfigured",
    "OnionPublisher",
    "OnionSettings",
    "OnionStatus",
    "ServiceKey",
    "TorBusy",
    "TorError",
    "TorMissing",
    "TorRefused",
    "TorUnreachable",
    "apply_user_change",
    "auth_private_line",
    "authorized_client_line",
    "ensure_keys",
    "read_address",
]
