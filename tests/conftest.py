from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import Mailbox, Site


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as server:
        yield server


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as server:
        yield server
