"""TLS below OpenSSL: the version type (``versions``), the IANA suite table (``suites``),
hand-built ClientHellos and the ServerHello parser (``hello``), and suite/version enumeration
over an injected exchange (``enumeration``). No sockets here: ``probes/tlsscan.py`` supplies them.
"""
