"""Sample data generator: realistic ERP, call-center and web extracts of one population,
with the ground truth of who is who (see docs/data-contracts.md, section 1)."""

from onetoone.generate.core import GenerationReport, generate

__all__ = ["GenerationReport", "generate"]
