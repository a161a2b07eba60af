"""Tor onion services through stem: the source service, and the ombuds service behind
per-user client authorization."""

from securedrop_lite.onion.control import (
    OnionNotConfigured,
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
    AccessUpdate,
    OnionPublisher,
    OnionSettings,
    OnionStatus,
    apply_user_change,
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
