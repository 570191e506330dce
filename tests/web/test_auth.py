from __future__ import annotations

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
