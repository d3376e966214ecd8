"""The ground floor: configuration (where things live, the one list of sources and schemas),
database helpers, and the registry of erased people that every load honours. Imports nothing
else of onetoone."""
