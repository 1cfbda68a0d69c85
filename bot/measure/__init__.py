"""One module per platform: how that platform itself measures a post and what it takes as a hashtag.

The registry (:mod:`bot.platforms`) points at these; everything else asks the registry, never a module here.
"""
