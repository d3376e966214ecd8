"""The front-line lookup service (``onetoone serve``): a web floor between the command line and
the operations, composing identity's contact scoring and serving's customer view, tokens and
audit (``app``)."""
