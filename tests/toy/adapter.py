"""The toy platform's adapter: one JSON call to create a post, translated to the core's errors."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from adapters.base import AccountSettings, KeyValue, PostRef, PostRequest, Quota
from bot.errors import Permanent, Transient


class ToyAdapter:
    platform: ClassVar[str] = "toy"

    def __init__(self, settings: AccountSettings, kv: KeyValue) -> None:
        self.settings = settings

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.settings.base_url or "", timeout=self.settings.timeout,
                            headers={"Authorization": f"Bearer {self.settings.credentials['TOY_TOKEN']}"})

    def character_limit(self) -> int | None:
        return None

    def prepare(self, post: PostRequest) -> dict[str, Any]:
        return {}

    def publish(self, post: PostRequest, prepared: dict[str, Any]) -> PostRef:
        with self._client() as client:
            reply = client.post("/toy/posts", json={"text": post.text, "key": post.idempotency_key,
                                                     "reply_to": post.reply_to.id if post.reply_to else None})
        if reply.status_code >= 500:
            raise Transient(f"toy: {reply.status_code}")
        if reply.status_code >= 400:
            raise Permanent(f"toy: {reply.json().get('error')}", status=reply.status_code)
        data = reply.json()
        return PostRef("toy", data["id"], data["url"])

    def reconcile(self, post: PostRequest, prepared: dict[str, Any]) -> PostRef | None:
        return None

    def delete(self, ref: PostRef) -> bool:
        return False

    def edit(self, ref: PostRef, post: PostRequest) -> PostRef:
        return ref

    def quota(self) -> Quota | None:
        return None

    def close(self) -> None:
        pass
