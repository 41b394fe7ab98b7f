"""Reporting: disclosure control, tables and figures."""
