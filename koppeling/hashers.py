"""The password hasher for activation codes: salted PBKDF2-SHA256, calibrated for random secrets.

Django's default PBKDF2 work factor (1,000,000 iterations, about half a second here) exists to slow
down guessing of human-chosen passwords. An activation code is not one: it has 60 bits from
``secrets`` and lives 24 hours. Guessing a stolen hash needs on average 2**59 PBKDF2 computations;
at 20,000 iterations a large GPU farm doing 10**6 of them per second would need tens of thousands of
years, against a code that expires in a day. The cheaper work factor keeps the rule "stored only as
a salted password hash" (design.md §6) while making an activation-code e-mail and a koppel attempt
cost about 10 ms of CPU instead of 500 ms — which otherwise limits one worker to a few code e-mails
per second (design.md §7, P6) and makes the koppel screen slow.

Online guessing is bounded by the lockout (5 tries per username and per identity), not by the hash.
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class ActivationCodeHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_sha256_code"
    iterations = 20_000
