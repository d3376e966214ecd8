"""Identity resolution: which source customer records are the same person.

``standardise`` cleans the unioned records, ``model`` specifies the Splink model, ``linker``
trains and applies it (in-memory DuckDB, no warehouse needed), ``keys`` turns clusters into
stable customer keys and ``evaluation`` scores clusters against ground truth.
"""
