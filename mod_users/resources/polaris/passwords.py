"""Staff passwords: kept only as a salted slow hash (the standard library's scrypt), checked off the event loop.

A hash reads ``scrypt$<n>$<r>$<p>$<salt>$<key>`` (base64), so that stronger parameters can come later and old
hashes still verify. scrypt is slow on purpose, and Polaris clients log in before every call (DCB does), so
a password verified once is remembered for a while in this process: what is kept is an HMAC of the login, the
stored hash and the password under a key that lives only in this process's memory, never the password
itself. A changed password has a new hash (a new salt), which no remembered entry matches.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import time
import weakref
from collections import OrderedDict

# scrypt's cost: N = 2^14, r = 8, p = 1 is the strength RFC 7914 and OWASP name for interactive logins
# (16 MiB of memory, some tens of milliseconds of CPU).
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAX_MEMORY = 64 * 1024 * 1024
# Verifications running at once in this process: a burst of bad passwords queues here instead of taking every
# core (each one holds ~16 MiB while it runs).
_CONCURRENT = max(1, min(4, os.cpu_count() or 1))
# How long a verified password is remembered, and how many are.
REMEMBER_SECONDS = 900
_REMEMBERED = 10_000


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAX_MEMORY, dklen=_KEY_BYTES)


def hash_password(password: str) -> str:
    """A new salted hash of ``password`` (blocking: call it through :func:`hash_off_loop`)."""
    salt = secrets.token_bytes(_SALT_BYTES)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(_derive(password, salt, _N, _R, _P))}"


def _matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(derived, base64.b64decode(key))
    except ValueError:  # a malformed stored hash verifies nothing
        return False


# A hash of a password nobody has: an unknown login name costs the same time as a wrong password.
_NOBODY = hash_password(secrets.token_urlsafe(16))


class Verifier:
    """Checks passwords against stored hashes, at most a few at a time, remembering recent successes."""

    def __init__(self) -> None:
        # One semaphore per event loop (an asyncio primitive belongs to the loop that first waits on it).
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._key = secrets.token_bytes(32)
        self._remembered: OrderedDict[bytes, float] = OrderedDict()

    def _slot(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        slot = self._slots.get(loop)
        if slot is None:
            slot = self._slots[loop] = asyncio.Semaphore(_CONCURRENT)
        return slot

    def _fingerprint(self, login: str, stored: str, password: str) -> bytes:
        message = "\x00".join((login, stored, password)).encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def remembers(self, login: str, stored: str | None, password: str) -> bool:
        """Whether ``password`` was verified against exactly this ``stored`` hash a short while ago."""
        if stored is None:
            return False
        fingerprint = self._fingerprint(login, stored, password)
        until = self._remembered.get(fingerprint)
        if until is None:
            return False
        if until < time.monotonic():
            del self._remembered[fingerprint]
            return False
        return True

    async def verify(self, login: str, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored`` (None: no such login, checked against a dummy hash so that
        it takes as long). A match is remembered for REMEMBER_SECONDS."""
        async with self._slot():
            ok = await asyncio.to_thread(_matches, password, stored or _NOBODY)
        if ok and stored is not None:
            self._remembered[self._fingerprint(login, stored, password)] = time.monotonic() + REMEMBER_SECONDS
            while len(self._remembered) > _REMEMBERED:
                self._remembered.popitem(last=False)
        return ok and stored is not None

    async def hash(self, password: str) -> str:
        """A new hash of ``password``, computed off the event loop."""
        async with self._slot():
            return await asyncio.to_thread(hash_password, password)


# The process's verifier: what it remembers is good for every app and event loop of the process.
VERIFIER = Verifier()

__all__ = ["REMEMBER_SECONDS", "VERIFIER", "Verifier", "hash_password"]
