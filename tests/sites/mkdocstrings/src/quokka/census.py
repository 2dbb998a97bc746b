"""Counting quokkas on an island."""


class IslandCensus:
    """A census of one island's quokkas."""

    def count_burrows(self, area):
        """Return how many burrows the wombat-free ``area`` holds."""
        return 0

    def readText(self):
        """Return the census as text, one line per burrow."""
        return ""


def parse_sighting(line):
    """Parse one sighting line into a dict."""
    return {}
