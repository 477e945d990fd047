"""The blinded A/B rating screen (issue 16)."""
