"""The erasure plan's Prefect artifact hides home-directory account names but keeps the rest of a path."""

from __future__ import annotations

import pytest

from services.erasure import mask_home_user


@pytest.mark.parametrize(
    ("path", "masked"),
    [
        ("/Users/za/Library/Claude/x.json", "/Users/[user]/Library/Claude/x.json"),
        ("/C:/Users/Anna Smith/AppData/Roaming/Claude/y", "/C:/Users/[user]/AppData/Roaming/Claude/y"),
        ("Users/bob/AppData/Local/z", "Users/[user]/AppData/Local/z"),
        ("/home/kim/.claude/projects/p.jsonl", "/home/[user]/.claude/projects/p.jsonl"),
        ("/home/kim", "/home/[user]"),
        ("C:\\Users\\x\\AppData\\w", "C:\\Users\\[user]\\AppData\\w"),
        ("/opt/users2/kim/z", "/opt/users2/kim/z"),
        ("/srv/homes/kim/z", "/srv/homes/kim/z"),
        ("", ""),
    ],
)
def test_home_account_names_are_masked(path: str, masked: str) -> None:
    assert mask_home_user(path) == masked
