"""Images are the publisher's job: it fetches each one once per run (guarded, within each platform's cap
from the registry), hands adapters bytes and a media type, judges fetch failures, and waits while a
platform processes an upload. Through the real SDKs against the sandbox; assertions on the wire."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot import publish
from bot.config import Settings, load_settings
from bot.errors import Permanent
from bot.images import ImageFetches, load_image
from bot.publish import FAILED, PUBLISHED, Publisher, TargetResult
from bot.sandbox import Sandbox
from bot.sandbox import mastodon as sandbox_mastodon
from bot.store import connect
from tests.test_publish import article

BIG_PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 1_000_001  # over Bluesky's 1,000,000 bytes, within X's 5 MB


@dataclass
class Sleeps:
    """The publisher's sleep, recorded and not slept (no timing in tests)."""

    calls: list[float] = field(default_factory=list)
    fail_at: int | None = None  # raise on this call: a run stopped while waiting

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.fail_at is not None and len(self.calls) == self.fail_at:
            raise SystemExit("stopped")


@dataclass
class Rig:
    sandbox: Sandbox
    settings: Settings
    store: Any
    sleeps: Sleeps

    def publisher(self) -> Publisher:
        return Publisher(self.settings, self.store, sleep=self.sleeps, backoff=0.01)

    def publish(self, platforms: tuple[str, ...], **kw: Any) -> dict[str, TargetResult]:
        results = self.publisher().publish(article(**kw), self.settings.accounts_for(platforms))
        return {r.platform: r for r in results}

    def serve(self, name: str, data: bytes, content_type: str = "image/png") -> str:
        return self.sandbox.url + sandbox_mastodon.add_file(self.sandbox.app, name, data, content_type)


@pytest.fixture
def rig(sandbox: Sandbox, tmp_path: Path) -> Iterator[Rig]:
    toml = tmp_path / "crosspost.toml"
    toml.write_text("[compose.x]\nimage = true\n[compose.mastodon]\nimage = true\n", encoding="utf-8")
    env = {**sandbox.env(), "CROSSPOST_TIMEOUT": "2", "DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}"}
    settings = load_settings(env=env, config_file=toml, load_dotenv=False)
    store = connect(settings.database_url)
    yield Rig(sandbox, settings, store, Sleeps())
    store.close()


def test_one_fetch_per_run_for_every_platform(rig: Rig) -> None:
    """X's image, Mastodon's image and Bluesky's card thumbnail are one URL: fetched once in the run."""
    url = rig.serve("one.png", sandbox_mastodon.sample_png(6, 4))
    results = rig.publish(("x", "bluesky", "mastodon"), image=url, image_alt="Six by four")
    assert {r.status for r in results.values()} == {PUBLISHED}, [r.error for r in results.values()]
    assert len(rig.sandbox.app.received("mastodon.files")) == 1
    assert rig.sandbox.app.posts("x")[0]["media"][0]["alt_text"] == "Six by four"
    record = rig.sandbox.app.received("bluesky.repo.putRecord")[0].json()["record"]
    assert record["embed"]["external"]["thumb"]["mimeType"] == "image/png"


@pytest.mark.parametrize("problem", ["too_big", "missing", "not_an_image"])
def test_card_goes_out_without_an_unusable_thumbnail(
    rig: Rig, caplog: pytest.LogCaptureFixture, problem: str
) -> None:
    """A thumbnail over Bluesky's 1,000,000 bytes, missing or not an image is left out (one warning)."""
    url = {"too_big": rig.serve("big.png", BIG_PNG), "missing": f"{rig.sandbox.url}/mastodon-media/none.png",
           "not_an_image": rig.serve("page.html", b"<html>hi</html>", "text/html")}[problem]
    with caplog.at_level(logging.WARNING, logger="crosspost.publish"):
        result = rig.publish(("bluesky",), image=url)["bluesky"]
    assert result.status == PUBLISHED, result.error
    external = rig.sandbox.app.received("bluesky.repo.putRecord")[0].json()["record"]["embed"]["external"]
    assert external["uri"] and "thumb" not in external
    assert not rig.sandbox.app.received("bluesky.repo.uploadBlob")
    (line,) = [r for r in caplog.records if r.getMessage() == "thumb_skipped"]
    assert line.__dict__["url"] == url and line.__dict__["platform"] == "bluesky"


def test_an_unreachable_image_is_retried_then_fails_and_nothing_is_posted(rig: Rig) -> None:
    """A host that refuses the connection: Transient (retried by the policy), then failed; no post."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = rig.publish(("x",), image=f"http://127.0.0.1:{port}/a.png")["x"]
    assert result.status == FAILED and "x: could not fetch the image" in (result.error or "")
    assert len(rig.sleeps.calls) == rig.settings.max_attempts - 1  # backed off between attempts
    assert rig.sandbox.app.posts("x") == [] and rig.sandbox.app.received("x.media.upload") == []
    assert rig.store.ledger_rows()[0].state == "failed"


def test_each_platform_has_its_own_image_cap(rig: Rig) -> None:
    """1,000,001 bytes: within X's 5 MB (posted), over Bluesky's 1,000,000 (permanent, not retried)."""
    url = rig.serve("big.png", BIG_PNG)
    assert rig.publish(("x",), image=url)["x"].status == PUBLISHED
    card = rig.publish(("bluesky",), image=url)["bluesky"]  # Bluesky takes it as a card: thumbnail left out
    assert card.status == PUBLISHED
    with pytest.raises(Permanent, match=r"bluesky: cannot attach the image \(posts take images up to 1,000,000"):
        load_image(ImageFetches(5_000_000), url, alt="", max_bytes=1_000_000, types=("image/png",),
                   label="bluesky", timeout=2, allow_private=True)
    assert len(rig.sandbox.app.received("mastodon.files")) == 3  # once per run


@pytest.mark.parametrize("name", ["absent.png", "note.txt"])
def test_a_missing_or_non_image_is_permanent(rig: Rig, name: str) -> None:
    """A 404 or a body that is no image: failed at once (no retry), nothing uploaded or posted."""
    rig.serve("note.txt", b"not an image", "text/plain")
    result = rig.publish(("x",), image=f"{rig.sandbox.url}/mastodon-media/{name}")["x"]
    assert result.status == FAILED and "x: cannot attach the image" in (result.error or "")
    assert rig.sleeps.calls == [] and rig.sandbox.app.received("x.media.upload") == []
    assert len(rig.sandbox.app.received("mastodon.files")) == 1  # one attempt: not retried


def test_a_private_address_is_refused_unless_allowed(rig: Rig) -> None:
    """The guarded fetcher refuses a loopback image unless private networks are allowed."""
    url = rig.serve("p.png", sandbox_mastodon.sample_png())
    with pytest.raises(Permanent, match=r"mastodon: cannot attach the image: .*refused"):
        load_image(ImageFetches(10**6), url, alt="", max_bytes=10**6, types=("image/png",), label="mastodon",
                   timeout=2, allow_private=False)
    assert rig.sandbox.app.received("mastodon.files") == []


def test_media_processing_is_waited_for_by_the_publisher(rig: Rig) -> None:
    """Mastodon processes the upload for 3 polls: the publisher waits (its sleep), asks again about the
    same media id, and the status goes out once with it; one upload."""
    rig.sandbox.app.state["mastodon"]["config"]["media_processing_polls"] = 3
    result = rig.publish(("mastodon",), image=rig.serve("m.png", sandbox_mastodon.sample_png()))["mastodon"]
    assert result.status == PUBLISHED, result.error
    assert len(rig.sleeps.calls) == 4  # after the upload, then after each of the 3 polls still processing
    assert len(rig.sandbox.app.received("mastodon.media.create")) == 1
    [stored] = rig.sandbox.app.posts("mastodon")
    [media_id] = stored["media_ids"]
    assert rig.store.ledger_rows()[0].prepared["adapter"]["media_id"] == media_id
    assert len(rig.sandbox.app.received("mastodon.statuses.create")) == 1


def test_endless_processing_is_bounded_and_never_uploads_twice(rig: Rig) -> None:
    """Never processed: each attempt waits at most MEDIA_WAIT in all, the target fails as Transient
    after the policy's attempts, and every attempt asked about the one upload."""
    rig.sandbox.app.state["mastodon"]["config"]["media_processing_polls"] = 10**6
    result = rig.publish(("mastodon",), image=rig.serve("m.png", sandbox_mastodon.sample_png()))["mastodon"]
    assert result.status == FAILED and "still processing" in (result.error or "")
    media_waits = [s for s in rig.sleeps.calls if s == 1.0]
    assert len(media_waits) == rig.settings.max_attempts * int(publish.MEDIA_WAIT)
    assert len(rig.sandbox.app.received("mastodon.media.create")) == 1
    assert rig.sandbox.app.posts("mastodon") == []


def test_a_run_stopped_while_waiting_resumes_with_the_same_upload(rig: Rig) -> None:
    """The run stops during the wait: the media id is in the ledger's prepared state, so the next run
    asks about that upload and posts once with it; no second upload."""
    rig.sandbox.app.state["mastodon"]["config"]["media_processing_polls"] = 2
    url = rig.serve("m.png", sandbox_mastodon.sample_png())
    rig.sleeps.fail_at = 1
    with pytest.raises(SystemExit):
        rig.publish(("mastodon",), image=url)
    [row] = rig.store.ledger_rows()
    media_id = row.prepared["adapter"]["media_id"]
    rig.sleeps.fail_at = None
    result = rig.publish(("mastodon",), image=url)["mastodon"]
    assert result.status == PUBLISHED, result.error
    assert len(rig.sandbox.app.received("mastodon.media.create")) == 1
    assert [p["media_ids"] for p in rig.sandbox.app.posts("mastodon")] == [[media_id]]
