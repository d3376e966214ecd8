"""onetoone: a customer warehouse for one-to-one marketing."""
__version__ = "0.1.0"
