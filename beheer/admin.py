from . import review_admin  # noqa: F401  (the access review's admin registers itself)
