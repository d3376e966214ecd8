"""The third floor: the pipeline's stages. ``ingest`` (raw), ``identity``, ``value``,
``quality`` (audit) and ``serving`` (publish and access to the marts). Each owns its schema's
DDL; a stage never imports another, and its functions take the caller's connection."""
