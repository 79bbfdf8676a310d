"""Activation code format: generation, forgiving normalisation and hashing (design.md §6).

A code is 12 characters of Crockford base32 from ``secrets`` (12 × 5 = 60 bits), shown as
``XXXX-XXXX-XXXX``. People copy it from an e-mail, so input is forgiving: case, spaces and dashes
do not matter, and the letters Crockford treats as look-alikes are read as digits (I/L → 1, O → 0).

Only a salted password hash of the canonical form (12 characters, no dashes) is stored; the plain
code exists in the worker's memory and in the e-mail, nowhere else.
"""

import re
import secrets
import unicodedata

from django.contrib.auth.hashers import check_password, get_hasher, make_password

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
LENGTH = 12
GROUP = 4
BITS = LENGTH * 5  # 60

_LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212_.]+")
_CANONICAL = re.compile(rf"^[{ALPHABET}]{{{LENGTH}}}$")

# One dummy hash per hasher configuration, so that a check for an unknown username costs exactly
# what a real check costs (see ``code_check``).
_dummy_hashes: dict[tuple, str] = {}


def code_generate() -> str:
    """Return a new code in its display form ``XXXX-XXXX-XXXX``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return code_display(raw)


def code_display(canonical: str) -> str:
    return "-".join(canonical[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def code_normalise(text: str) -> str | None:
    """Return the canonical 12-character form of what a person typed, or None if it cannot be a code."""
    if not isinstance(text, str) or len(text) > 64:
        return None
    text = unicodedata.normalize("NFKC", text).upper()
    text = _SEPARATORS.sub("", text).translate(_LOOKALIKES)
    return text if _CANONICAL.match(text) else None


CODE_HASHER = "pbkdf2_sha256_code"  # koppeling.hashers.ActivationCodeHasher


def _code_hasher():
    """The activation-code hasher when configured (it is in every profile), else the default one."""
    try:
        return get_hasher(CODE_HASHER)
    except ValueError:
        return get_hasher()


def code_hash(canonical: str) -> str:
    return make_password(canonical, hasher=_code_hasher())


def _dummy_hash() -> str:
    hasher = _code_hasher()
    config = (hasher.algorithm, getattr(hasher, "iterations", None), getattr(hasher, "time_cost", None))
    if config not in _dummy_hashes:
        _dummy_hashes[config] = make_password(secrets.token_hex(16), hasher=hasher)
    return _dummy_hashes[config]


def code_check(canonical: str, encoded: str | None) -> bool:
    """Check ``canonical`` against ``encoded``; with no hash, run the same work against a dummy.

    Always exactly one password-hash computation, so that an attacker cannot tell an unknown
    username (or one without a valid code) from a known one by the response time.
    """
    if encoded is None:
        check_password(canonical, _dummy_hash())
        return False
    return check_password(canonical, encoded)


def code_check_blocked(canonical: str) -> bool:
    """For an attempt refused by the lockout: the same hash work, never against a real code.

    A blocked attempt is not evaluated, but answering it without a hash computation would let an
    attacker tell from the response time that a key is blocked.
    """
    check_password(canonical, _dummy_hash())
    return False
