"""argon2id hashes for portal passwords and PINs, computed off the event loop."""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters


async def hash_secret(secret: str) -> str:
    return await asyncio.to_thread(_hasher.hash, secret)


async def verify_secret(hashed: str | None, secret: str) -> bool:
    """True when `secret` matches; with no hash, a dummy check so timing tells nothing."""
    target = hashed or _dummy_hash()
    try:
        ok = await asyncio.to_thread(_hasher.verify, target, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return bool(ok) and hashed is not None


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("no such account")
