"""A toy platform made of one adapter, one template, one sandbox module and one registry entry, nothing else.

``tests/test_registry.py`` registers it and checks that every part of crosspost that lists platforms
lists it too: ``--platform``, the sandbox (its routes and the environment it prints), the ``.env.example``
check, the dry run, publishing, and the tests parametrised over the registry (``CROSSPOST_TEST_TOY=1``
registers it before collection, see ``tests/conftest.py``).
"""

from __future__ import annotations

from pathlib import Path

from bot.platforms import Platform


def _measure(text: str, _url_weight: int) -> int:
    return len(text)


ENTRY = Platform(
    "toy", "Toy", 200, "characters", _measure,
    adapter="tests.toy.adapter:ToyAdapter", sandbox="tests.toy.sandbox",
    credentials=("TOY_TOKEN",), accepts_hashtag=str.isalnum, link_spans=lambda _text: [],
    base_url_env="TOY_API_BASE_URL", default_base_url="https://toy.invalid",
    template=str(Path(__file__).with_name("toy.j2")),
)
