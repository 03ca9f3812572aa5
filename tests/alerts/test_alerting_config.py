"""The ``[alerting]`` section: a bad channel, a missing secret or bad quiet hours fail at load
with the key and the fix; a good one round-trips through the written TOML, secrets out."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from chronoguard.alerts import PagerDutyChannel, build_channels
from chronoguard.config import dump_config, load_config, parse_config
from chronoguard.errors import ConfigError

GOOD = """
[alerting]
cooldown_minutes = 30
quiet_hours = "22:00-07:00"
timezone = "Europe/Berlin"

[[alerting.channels]]
name = "pager"
kind = "pagerduty"
routing_key_env = "CG_TEST_ROUTING_KEY"
tiers = ["critical", "high"]

[[alerting.channels]]
name = "chat"
kind = "slack"
url_env = "CG_TEST_SLACK_URL"
digest_minutes = 60
"""


def _error(raw: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config({"alerting": raw})
    return str(err.value)


def test_a_good_section_loads_and_its_secrets_stay_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CG_TEST_ROUTING_KEY", "the-routing-key")
    monkeypatch.setenv("CG_TEST_SLACK_URL", "https://hooks.slack.com/services/T/B/secret")
    path = tmp_path / "chronoguard.toml"
    path.write_text(GOOD)
    cfg = load_config(path)
    assert [c.name for c in cfg.alerting.channels] == ["pager", "chat"]
    written = dump_config(cfg)
    assert "the-routing-key" not in written and "secret" not in written
    assert parse_config(tomllib.loads(written)) == cfg
    channels = build_channels(cfg.alerting)
    pager = channels["pager"]
    assert isinstance(pager, PagerDutyChannel)
    assert pager.routing_key == "the-routing-key"
    assert pager.events_url == "https://events.pagerduty.com/v2/enqueue"


def test_no_section_means_no_channels() -> None:
    assert parse_config({}).alerting.channels == []


def test_an_unknown_channel_kind_names_the_kinds() -> None:
    message = _error({"channels": [{"name": "x", "kind": "teams", "url": "http://h"}]})
    assert "alerting.channels.0.kind: channel kind 'teams' is unknown" in message
    assert "webhook, slack, pagerduty, email" in message


def test_a_missing_secret_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CG_TEST_UNSET_KEY", raising=False)
    message = _error(
        {"channels": [{"name": "p", "kind": "pagerduty", "routing_key_env": "CG_TEST_UNSET_KEY"}]}
    )
    assert "alerting.channels.0: channel 'p'" in message
    assert "CG_TEST_UNSET_KEY (routing key) is not set; export it" in message
    message = _error({"channels": [{"name": "p", "kind": "pagerduty"}]})
    assert "needs routing_key_env" in message


@pytest.mark.parametrize(
    "hours", ["22:00", "25:00-07:00", "22:00-22:00", "10pm-7am", "22:00-07:60"]
)
def test_bad_quiet_hours(hours: str) -> None:
    message = _error({"quiet_hours": hours})
    assert f"alerting.quiet_hours: quiet_hours {hours!r} must be two different times" in message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"timezone": "Mars/Olympus"}, "is not an IANA time zone"),
        ({"channels": [{"name": "w", "kind": "webhook"}]}, "needs exactly one of url or url_env"),
        (
            {"channels": [{"name": "w", "kind": "webhook", "url": "ftp://x"}]},
            "must start with http:// or https://",
        ),
        ({"channels": [{"name": "m", "kind": "email", "sender": "a@b"}]}, "needs smtp_host"),
        (
            {
                "channels": [
                    {"name": "a", "kind": "webhook", "url": "http://x"},
                    {"name": "a", "kind": "webhook", "url": "http://y"},
                ]
            },
            "channel names must be unique; repeated: a",
        ),
        (
            {"channels": [{"name": "w", "kind": "webhook", "url": "http://x", "tiers": ["gold"]}]},
            "alerting.channels.0.tiers.0",
        ),
        (
            {"channels": [{"name": "w", "kind": "webhook", "url": "http://x", "secret": "s"}]},
            "alerting.channels.0.secret: unknown key",
        ),
        ({"retry_initial_seconds": 60, "retry_max_seconds": 10}, "retry_max_seconds must be"),
    ],
)
def test_each_problem_names_its_key(raw: dict[str, object], expected: str) -> None:
    assert expected in _error(raw)


def test_a_pagerduty_channel_has_no_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_TEST_ROUTING_KEY", "k")
    message = _error(
        {
            "channels": [
                {
                    "name": "p",
                    "kind": "pagerduty",
                    "routing_key_env": "CG_TEST_ROUTING_KEY",
                    "digest_minutes": 30,
                }
            ]
        }
    )
    assert "digest_minutes is not for pagerduty" in message
