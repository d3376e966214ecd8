"""Serving: what BI users, auditors and the front line read. ``publish`` swaps the checked marts
into ``marts`` atomically; ``access`` keeps the roles, grants and logins that decide who reads
what; ``frontline`` keeps the front-line service's tokens, its audit and the customer view."""
