"""Serving: what BI users and auditors read. ``publish`` swaps the checked marts into ``marts``
atomically; ``access`` keeps the roles, grants and logins that decide who reads what."""
