"""Blinded A/B preference sessions (issue 16).

``sessions`` sets a session up and owns the side→system map (with the store);
``packages`` writes and reads rater files for other machines; ``analysis``
unblinds a locked session into statistics; ``export`` turns decisive votes
into preference-tuning files.
"""
