"""crosspost: one article in, platform-sized posts out on X, Bluesky and Mastodon, exactly once."""

__version__ = "0.1.0"
