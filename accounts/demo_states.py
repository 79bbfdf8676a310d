"""Demo account states that depend on later features. Each feature adds its state here."""


def apply(*, account, state, stdout) -> None:
    """Bring ``account`` into a demo ``state`` that needs a feature service (codes, blocks, tokens)."""
    return None
