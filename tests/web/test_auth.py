from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import bcrypt
import pytest

from monitor.config.config import HttpAuthConfig
from monitor.core.errors import InvalidInput
from monitor.web import auth
from tests.web_fixtures import write_newsroom_config


def test_argon2_and_bcrypt_hashes_are_both_accepted() -> None:
    argon = auth.hash_password("correct horse")
    crypt = bcrypt.hashpw(b"battery staple", bcrypt.gensalt(rounds=4)).decode()
    assert auth.password_ok(argon, "correct horse") and not auth.password_ok(argon, "x")
    assert auth.password_ok(crypt, "battery staple") and not auth.password_ok(crypt, "x")
    assert not auth.password_ok("$2b$broken", "x")


def test_the_login_takes_the_password_or_the_token() -> None:
    login = HttpAuthConfig(password_hash=auth.hash_password("correct horse"), token="t" * 20)
    assert auth.secret_ok(login, "correct horse") and auth.secret_ok(login, "t" * 20)
    assert not auth.secret_ok(login, "") and not auth.secret_ok(login, "t" * 19)


def test_sessions_expire() -> None:
    sessions = auth.Sessions(lifetime=60)
    sid = sessions.open(now=1000)
    assert sessions.valid(sid, 1059) and not sessions.valid(sid, 1060)
    assert not sessions.valid("forged", 1000) and not sessions.valid(None, 1000)
    sessions.close(sid)
    assert not sessions.valid(sid, 1001)


def test_a_failing_client_waits_longer_each_time_and_others_are_heard() -> None:
    login = HttpAuthConfig(password_hash=auth.hash_password("correct horse"))
    logins = auth.Logins()

    async def main() -> None:
        assert await logins.check(login, "a", "guess", 100.0) == auth.Verdict(False)
        assert await logins.check(login, "a", "correct horse", 100.5) == \
            auth.Verdict(False, wait=0.5)  # unheard, even the right one, until its wait ends
        assert await logins.check(login, "b", "correct horse", 100.5) == auth.Verdict(True)
        assert await logins.check(login, "a", "guess", 101.0) == auth.Verdict(False)
        assert (await logins.check(login, "a", "guess", 102.5)).wait == 0.5  # now 2 s
        assert await logins.check(login, "a", "correct horse", 103.0) == auth.Verdict(True)
        assert await logins.check(login, "a", "guess", 103.0) == auth.Verdict(False)  # forgiven
    asyncio.run(main())


def test_a_flood_of_guesses_is_checked_a_few_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """48 concurrent wrong passwords once took 48 × 180 ms on the event loop."""
    login = HttpAuthConfig(password_hash=auth.hash_password("correct horse"))
    logins = auth.Logins(concurrency=2, queue=16)
    checked = []
    real = auth.secret_ok
    monkeypatch.setattr(auth, "secret_ok", lambda *args: checked.append(1) or real(*args))

    async def main() -> list[auth.Verdict]:
        same = [logins.check(login, "flood", "guess", 10.0) for _ in range(24)]
        many = [logins.check(login, f"bot{n}", "guess", 10.0) for n in range(24)]
        return await asyncio.gather(*same, *many)

    verdicts = asyncio.run(main())
    assert len(checked) <= 1 + 16  # one per client at a time, at most `queue` waiting
    assert sum(v.wait > 0 for v in verdicts[:24]) == 23  # the flooding client: heard once
    assert sum(v.busy for v in verdicts[24:]) >= 24 - 16


def test_a_console_beyond_loopback_without_a_login_is_refused(tmp_path: Path) -> None:
    from monitor.runners.app import load_config

    with pytest.raises(InvalidInput) as refused:
        load_config(write_newsroom_config(tmp_path, listen="0.0.0.0:9321"))
    assert "http: the console would listen on 0.0.0.0, beyond this machine, with no login" in \
        str(refused.value)
    assert ":9: http" in str(refused.value) or ":10: http" in str(refused.value)
    with pytest.raises(InvalidInput, match="expected an argon2 or bcrypt hash"):
        load_config(write_newsroom_config(tmp_path, listen="0.0.0.0:9321",
                                          auth={"password_hash": "hunter2"}))
    config = load_config(write_newsroom_config(tmp_path, listen="9321"))
    assert config.http is not None and config.http.listen == "127.0.0.1:9321"


def test_hash_password_from_the_command_line() -> None:
    done = subprocess.run([sys.executable, "-m", "monitor", "console", "hash-password"],
                          input="correct horse\n", capture_output=True, text=True, check=True)
    assert auth.password_ok(done.stdout.strip(), "correct horse")
