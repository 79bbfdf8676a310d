"""The hasher for OAuth2 client secrets: salted PBKDF2-SHA256 with one iteration.

Django's work factor (1,000,000 iterations, about half a second here) slows down guessing of
human-chosen passwords. A client secret is not one: django-oauth-toolkit generates 128 characters
from ``secrets`` (over 700 bits; the demo client's is an HMAC-SHA256 of SECRET_KEY, 256 bits), and
no amount of hashing speed makes such a secret guessable from its hash: one iteration (an
HMAC-SHA256 with a per-secret salt) is as safe for it as a million. Every iteration instead costs
CPU on every token request and introspection (design.md §7, P9: token exchange p50 ≤ 10 ms; 1,000
iterations were ~0.3-0.45 ms of it). The secret is still stored only as a salted hash.

Secrets stored before with 1,000 iterations keep working: the count is part of the stored hash and
verification uses it; a renewed secret (the admin's "new client secret") gets one iteration.
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class ClientSecretHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_sha256_client_secret"
    iterations = 1
