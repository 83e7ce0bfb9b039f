"""Orchestration: one host's plan and scan (``host``), mail domains (``domain``), a mail client's
settings (``client``), many hosts (``batch``). The only layer that runs probes and checks together.
"""
