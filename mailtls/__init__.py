"""mailtls: how secure is a mail server's transport, with the server's own words as evidence."""

__version__ = "0.1.0"

__all__ = ["__version__"]
