"""monitor: a news-monitoring daemon for French-language feeds."""

__version__ = "0.1.0"
