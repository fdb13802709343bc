"""Reporting writes no domain tables; it has no models."""
