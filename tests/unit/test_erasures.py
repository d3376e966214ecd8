"""The registry's hashes: what `forget` stores and what every load's scrub recomputes in SQL
(``sha256('<source>:' || record_id)``, ``sha256(lower(trim(email)))``), so they must agree to
the byte or erased people come back."""

from __future__ import annotations

import hashlib

from onetoone.foundation.erasures import normalise_email, record_hash, subject_hash


def test_subject_hash_is_the_hex_sha256_of_the_utf8_text():
    assert subject_hash("Zéfira") == hashlib.sha256("Zéfira".encode()).hexdigest()
    assert len(subject_hash("")) == 64


def test_record_hash_joins_source_and_record_id_with_a_colon():
    assert record_hash("erp", "C1") == hashlib.sha256(b"erp:C1").hexdigest()
    assert record_hash("erp", "C1") != record_hash("web", "C1")


def test_emails_are_compared_trimmed_and_lower_case():
    assert normalise_email("  Zefira.Q@Example.COM \n") == "zefira.q@example.com"
    assert subject_hash(normalise_email(" A@B.io")) == hashlib.sha256(b"a@b.io").hexdigest()
