"""Certificates, pure: X.509 facts and RFC 6125/9525 name matching (``x509``), DANE (``dane``)."""
