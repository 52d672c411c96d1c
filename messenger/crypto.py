"""Page access tokens at rest: Fernet with a key list of their own (TOKEN_ENCRYPTION_KEYS).

The first key encrypts; every key decrypts, so a new key is put first and the old ones
stay until `manage.py rotate_page_tokens` has re-encrypted everything.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class TokenDecryptionError(Exception):
    """No configured key opens this token (it was encrypted with a key since removed)."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise RuntimeError("TOKEN_ENCRYPTION_KEYS is empty.")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.TOKEN_ENCRYPTION_KEYS))


def encrypt_token(token: str) -> str:
    return _current().encrypt(token.encode()).decode()


def decrypt_token(ciphertext: str) -> str:
    try:
        return _current().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise TokenDecryptionError("The page token cannot be decrypted with the configured keys.") from None


def reencrypt_token(ciphertext: str) -> str:
    """The same token under the newest key."""
    return _current().rotate(ciphertext.encode()).decode()
