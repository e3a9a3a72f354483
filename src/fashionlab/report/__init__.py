"""Figures and reports, drawn headless with matplotlib."""
