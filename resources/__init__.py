"""Bundled resources: demonstration transcripts, icons, styles (data only)."""
