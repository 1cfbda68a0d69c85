"""Smoke tests of the local Bluesky PDS (tests/pds): it starts, makes accounts, and validates like Bluesky."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.pds_harness import LocalPDS, pds  # noqa: F401  (the fixture; shared with conftest's import)

pytestmark = pytest.mark.pds

POST = "app.bsky.feed.post"
LINK = "https://example.com/articles/caf%C3%A9?ref=crosspost"


def get_record(server: LocalPDS, uri: str) -> dict[str, Any]:
    """GET com.atproto.repo.getRecord for an at:// URI, as raw JSON (what the PDS stored)."""
    repo, collection, rkey = uri.removeprefix("at://").split("/")
    query = urllib.parse.urlencode({"repo": repo, "collection": collection, "rkey": rkey})
    url = f"{server.url}/xrpc/com.atproto.repo.getRecord?{query}"
    with urllib.request.urlopen(url, timeout=30) as response:
        record: dict[str, Any] = json.load(response)
        return record


def listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) of the sockets that LISTEN on a TCP port."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if int(hex_port, 16) == port and fields[3] == "0A":
                found.add(address)
    return found


def test_servers_listen_on_loopback_only(pds: LocalPDS) -> None:  # noqa: F811
    """The PDS and the PLC directory bind 127.0.0.1, not every interface."""
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux /proc/net/tcp")
    for url in (pds.url, pds.plc_url):
        port = int(url.rsplit(":", 1)[1])
        assert listening_addresses(port) == {"0100007F"}, url


def test_health_and_account(pds: LocalPDS) -> None:  # noqa: F811
    """The PDS answers on 127.0.0.1 and makes a .test account with a did:plc from the local directory."""
    assert pds.url.startswith("http://127.0.0.1:")
    handle, _password, did = pds.create_account("alice")
    assert handle.startswith("alice") and handle.endswith(".test")
    assert did.startswith("did:plc:")
    with urllib.request.urlopen(f"{pds.plc_url}/{did}", timeout=10) as response:
        doc = json.load(response)
    assert doc["id"] == did
    assert f"at://{handle}" in doc["alsoKnownAs"]


def test_post_with_link_facet_round_trips(pds: LocalPDS) -> None:  # noqa: F811
    """A post with a link facet (UTF-8 byte offsets) is stored and read back exactly."""
    from atproto import models

    handle, password, did = pds.create_account("bob")
    client = pds.client(handle, password)
    assert client.me is None  # no profile fetch: a bare PDS has no app.bsky.actor.getProfile

    display = "example.com/articles/café"
    text = f"Crème brûlée → {display} #test"
    start = len(text[: text.index(display)].encode())
    end = start + len(display.encode())
    facet = models.AppBskyRichtextFacet.Main(
        index=models.AppBskyRichtextFacet.ByteSlice(byte_start=start, byte_end=end),
        features=[models.AppBskyRichtextFacet.Link(uri=LINK)],
    )
    created = client.send_post(text=text, facets=[facet], profile_identify=did)
    assert created.uri.startswith(f"at://{did}/{POST}/")

    stored = get_record(pds, created.uri)
    assert stored["cid"] == created.cid
    value = stored["value"]
    assert value["$type"] == POST
    assert value["text"] == text
    [stored_facet] = value["facets"]
    assert stored_facet["$type"] == "app.bsky.richtext.facet"
    # The SDK also writes the optional "$type": "app.bsky.richtext.facet#byteSlice" on the index.
    assert (stored_facet["index"]["byteStart"], stored_facet["index"]["byteEnd"]) == (start, end)
    assert stored_facet["features"] == [{"$type": "app.bsky.richtext.facet#link", "uri": LINK}]
    assert text.encode()[start:end].decode() == display


def test_grapheme_limit_is_enforced(pds: LocalPDS) -> None:  # noqa: F811
    """300 graphemes are accepted and 301 get 400, counted as graphemes (e + combining acute = 1)."""
    from atproto.exceptions import BadRequestError

    handle, password, did = pds.create_account("carol")
    client = pds.client(handle, password)

    grapheme = "e\u0301"  # two code points, three bytes, one grapheme
    client.send_post(text=grapheme * 300, profile_identify=did)
    with pytest.raises(BadRequestError) as caught:
        client.send_post(text=grapheme * 301, profile_identify=did)
    assert caught.value.response is not None
    assert caught.value.response.status_code == 400
    assert "grapheme" in str(caught.value.response.content).lower()


def test_server_dies_with_its_stdin(pds: LocalPDS) -> None:  # noqa: F811
    """A second server exits on its own once its stdin closes (no orphan when pytest dies) and cleans up."""
    other = LocalPDS().start()
    try:
        assert other.url != pds.url
        workdir = other.log_path.parent if other.log_path else None
        proc = other._proc
        assert proc is not None and proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
    finally:
        other.stop()
    assert workdir is not None and not workdir.exists()


def test_failed_start_reports_the_log_tail(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """When node exits while starting, PDSUnavailable carries the exit code and what it printed."""
    import tests.pds_harness as harness

    (tmp_path / "server.mjs").write_text("console.error('boom: no PDS today'); process.exit(3)\n")
    monkeypatch.setattr(harness, "PDS_DIR", tmp_path)
    monkeypatch.setattr(harness, "ensure_installed", lambda: None)
    with pytest.raises(harness.PDSUnavailable) as caught:
        LocalPDS().start()
    assert "exited with code 3" in caught.value.reason
    assert "boom: no PDS today" in caught.value.reason


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_unavailable_pds_fails_in_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    """pds_or_skip turns PDSUnavailable into a loud failure under CI=true and a skip otherwise."""
    import tests.pds_harness as harness

    def unavailable() -> LocalPDS:
        raise harness.PDSUnavailable("node not found on PATH")

    monkeypatch.setattr(harness, "shared_pds", unavailable)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="node not found on PATH"):
        harness.pds_or_skip()
