"""Pure parsers of documents that come from outside: MTA-STS/TLS-RPT (``mailpolicy``) and mail
client configurations: autoconfig XML, Thunderbird prefs.js, Apple .mobileconfig (``clientconfig``).
"""
