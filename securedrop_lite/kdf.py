"""Argon2id derivations of a codename: the database lookup id and the source's key seed."""

from __future__ import annotations

from argon2.low_level import Type, hash_secret_raw

from securedrop_lite.config import KdfParams

OUTPUT_BYTES = 32


class CodenameKdf:
    """Derives `source_id = KDF(codename, pepper_id)` and `key_seed = KDF(codename, pepper_key)`.

    The peppers are instance secrets, so a stolen database alone cannot be brute-forced
    offline; the memory cost makes each guess expensive even with the config.
    """

    def __init__(self, pepper_id: bytes, pepper_key: bytes, params: KdfParams) -> None:
        if pepper_id == pepper_key:
            raise ValueError("the two peppers must differ")
        if min(len(pepper_id), len(pepper_key)) < 16:
            raise ValueError("peppers must be at least 16 bytes")
        self._pepper_id = pepper_id
        self._pepper_key = pepper_key
        self.params = params

    def _derive(self, codename: str, pepper: bytes) -> bytes:
        return hash_secret_raw(
            secret=codename.encode("utf-8"),
            salt=pepper,
            time_cost=self.params.time_cost,
            memory_cost=self.params.memory_cost_kib,
            parallelism=self.params.parallelism,
            hash_len=OUTPUT_BYTES,
            type=Type.ID,
        )

    def source_id(self, codename: str) -> str:
        """Return the hex lookup id stored in the database."""
        return self._derive(codename, self._pepper_id).hex()

    def key_seed(self, codename: str) -> bytes:
        """Return the 32-byte seed of the source's X25519 key pair; never stored."""
        return self._derive(codename, self._pepper_key)
