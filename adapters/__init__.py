"""One module per platform, each with one adapter class; the registry (``bot.platforms``) names each one
and imports it on demand, so a dry run imports no SDK."""
