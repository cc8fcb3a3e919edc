"""Attribute keys: the SDK's where one exists, and `pii` on every key that holds user data."""

from __future__ import annotations

from livekit.agents.telemetry import trace_types

from telemetry import attributes


def _keys() -> dict[str, str]:
    return {
        name: value
        for name, value in vars(attributes).items()
        if name.startswith("ATTR_") and isinstance(value, str)
    }


def test_every_user_data_key_has_the_pii_segment() -> None:
    assert attributes.USER_DATA_KEYS
    for key in attributes.USER_DATA_KEYS:
        assert "pii" in key.split("."), key
    assert attributes.PII_KEYS == attributes.USER_DATA_KEYS


def test_keys_holding_identities_or_names_are_user_data() -> None:
    # any key whose name says it carries an identity or a display name is user data
    for name, key in _keys().items():
        if any(word in name for word in ("IDENTITY", "_NAME")):
            assert key in attributes.USER_DATA_KEYS, name


def test_sdk_keys_are_reused() -> None:
    keys = _keys()
    for name in ("ATTR_ROOM_SID", "ATTR_JOB_ID", "ATTR_PARTICIPANT_ID", "ATTR_TRACK_SID"):
        assert keys[name] == getattr(trace_types, name)
    for key in keys.values():
        assert key.startswith("lk."), key
