"""The dry run's Plan: what each target would get, composed with the limits known without posting.

One function, used by ``crosspost ARTICLE --dry-run`` and by ``crosspost preview`` (and the dashboard's
preview), so what the preview page counts is by construction what the dry run prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from bot.article import Article
from bot.compose import Plan, compose
from bot.config import Settings


def dry_run_plan(article: Article, settings: Settings, platforms: Sequence[str], *, thread: bool = False) -> Plan:
    """Compose ``article`` for every account of ``platforms`` (one ``default`` account where none is
    configured), with each server's announced limit when it is cached or cheap to ask."""
    from bot.fediverse import dry_run_options

    stores: list[Any] = []

    def kv() -> Any:  # the store holds cached server facts; opened only when a server is asked
        if not stores:
            from bot.store import connect

            stores.append(connect(settings.database_url))
        return stores[0]

    targets = []
    try:
        for platform in platforms:
            accounts = [a.account for a in settings.accounts if a.platform == platform] or ["default"]
            for account in accounts:
                opts = dry_run_options(settings, platform, account, settings.options_for(platform, account), kv)
                targets.append((platform, account, replace(opts, thread=opts.thread or thread)))
    finally:
        for store in stores:
            store.close()
    return compose(article, targets, templates_dir=settings.templates_dir)
