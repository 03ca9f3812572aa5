"""An alert storm: a shock fires alerts for 30 % of a 1,000-series fleet in one cycle.

Each channel gets one notification for the model and cycle, listing every affected series
by group, not 300; when the shock clears, each channel that heard of the episode gets one
resolve (PagerDuty under the episode's dedup_key). A second shock is a new episode.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from chronoguard.alerts import SeriesPlace, build_channels, deliver_pending
from chronoguard.config import AlertingConfig, ChannelConfig
from chronoguard.store import Store
from tests.alerts.receivers import http_receiver, smtp_receiver
from tests.alerts.support import MODEL, check

N = 1000
SERIES = [f"store{i:04d}" for i in range(N)]
REGIONS = ["north", "south", "east", "west"]
PLACES = {
    u: SeriesPlace(REGIONS[i % 4], "high" if i % 4 == 0 else "standard")
    for i, u in enumerate(SERIES)
}


def test_a_storm_is_one_notification_per_channel_and_cycle_then_one_resolve(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CG_TEST_PD_KEY", "storm-key")
    rng = np.random.default_rng(15)
    shocked = sorted(rng.choice(SERIES, size=N * 3 // 10, replace=False).tolist())
    with http_receiver() as rx, smtp_receiver() as box:
        cfg = AlertingConfig(
            cooldown_minutes=0,
            channels=[
                ChannelConfig(name="hook", kind="webhook", url=rx.url + "/hook"),
                ChannelConfig(name="chat", kind="slack", url=rx.url + "/slack"),
                ChannelConfig(
                    name="pager",
                    kind="pagerduty",
                    events_url=rx.url + "/pd",
                    routing_key_env="CG_TEST_PD_KEY",
                    tiers=["high"],
                ),
                ChannelConfig(
                    name="mail",
                    kind="email",
                    smtp_host=box.host,
                    smtp_port=box.port,
                    sender="cg@example.org",
                    recipients=["oncall@example.org"],
                ),
            ],
        )
        channels = build_channels(cfg)
        days = pd.date_range("2024-01-01", periods=5, freq="D")
        # On the shock's day the shocked series came in 25 % below what was served for them.
        store.record_forecasts(
            pd.DataFrame(
                {
                    "unique_id": SERIES,
                    "origin": days[0],
                    "ds": days[1],
                    "horizon": 1,
                    "yhat": 100.0,
                    "yhat_lo": 90.0,
                    "yhat_hi": 110.0,
                    "level": 80,
                }
            ),
            model_name=MODEL,
            version="1",
            alias="champion",
            created_at=days[0].to_pydatetime(),
        )
        y = [75.0 if u in set(shocked) else 100.0 for u in SERIES]
        store.record_actuals(
            pd.DataFrame({"unique_id": SERIES, "ds": days[1], "y": y}), days[1].to_pydatetime()
        )
        # calm, the shock, the shock persists (nothing new: no message), cleared, calm
        plan = [[], shocked, shocked, [], []]
        per_cycle: list[dict[str, int]] = []
        started = time.perf_counter()
        for day, hot in zip(days, plan, strict=True):
            queued = check(store, cfg, day, SERIES, hot, places=PLACES)
            counts: dict[str, int] = {}
            for q in queued:
                counts[q.channel] = counts.get(q.channel, 0) + 1
            per_cycle.append(counts)
            report = deliver_pending(store, channels, cfg, now=day)
            assert report.failed == 0, report.errors
        elapsed = time.perf_counter() - started
        everyone = {"hook": 1, "chat": 1, "pager": 1, "mail": 1}
        assert per_cycle == [{}, everyone, {}, everyone, {}]
        assert len(store.list_alerts()) == len(shocked)

        hook = [r.body for r in rx.accepted if r.path == "/hook"]
        assert [b["event"] for b in hook] == ["trigger", "resolve"]
        # The shock is said once per group, in the one notification.
        size = {g: sum(PLACES[u].group == g for u in shocked) for g in REGIONS}
        assert set(hook[0]["incidents"]) == {
            f"{size[g]} of {N // 4} series in group {g} dropped 25 % in the same cycle"
            for g in REGIONS
        }
        assert hook[1]["incidents"] == []
        assert sorted(s["unique_id"] for s in hook[0]["series"]) == shocked
        by_group = {
            g: sorted(s["unique_id"] for s in hook[0]["series"] if s["group"] == g) for g in REGIONS
        }
        for g in REGIONS:
            assert by_group[g] == [u for u in shocked if PLACES[u].group == g]

        slack = [r.body for r in rx.accepted if r.path == "/slack"]
        assert len(slack) == 2
        for u in shocked:
            assert u in slack[0]["text"]
        assert len(slack[0]["blocks"]) <= 50
        assert all(
            len(b["text"]["text"]) <= 3000 for b in slack[0]["blocks"] if b["type"] == "section"
        )

        pages = [r.body for r in rx.accepted if r.path == "/pd"]
        assert [p["event_action"] for p in pages] == ["trigger", "resolve"]
        assert pages[0]["dedup_key"] == pages[1]["dedup_key"]
        listed = pages[0]["payload"]["custom_details"]["series_by_group"]
        assert list(listed) == ["north"]  # the pager gets the high tier only
        assert sorted(listed["north"]) == [u for u in shocked if PLACES[u].tier == "high"]

        assert len(box.messages) == 2
        body = box.messages[0].get_payload()
        assert all(u in body for u in shocked)
        assert f"Incident: {size['north']} of {N // 4} series in group north dropped" in body
        assert box.messages[0]["Message-ID"] != box.messages[1]["Message-ID"]

        # A second shock opens a new episode with its own dedup key.
        check(store, cfg, "2024-01-06", SERIES, shocked[:10], places=PLACES)
        deliver_pending(store, channels, cfg, now="2024-01-06")
        episodes = store.list_alert_episodes("demand")
        assert [e.status for e in episodes] == ["resolved", "open"]
        assert len({e.dedup_key for e in episodes}) == 2
    print(f"storm: 5 checks of {N} series, queue and deliver to 4 channels: {elapsed:.2f} s")
