"""Reusable widgets that belong to no single page."""
