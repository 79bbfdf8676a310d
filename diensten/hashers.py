"""The hasher for OAuth2 client secrets: salted PBKDF2-SHA256 with few iterations.

Django's default work factor (1,000,000 iterations, about half a second here) slows down guessing of
human-chosen passwords. A client secret is not one: django-oauth-toolkit generates 128 characters
from ``secrets`` (over 700 bits), which no amount of hashing speed makes guessable. The default
would instead cost half a second of CPU on every token request and introspection (design.md §7, P9:
token exchange p50 ≤ 10 ms). The secret is still stored only as a salted hash.
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class ClientSecretHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_sha256_client_secret"
    iterations = 1_000
