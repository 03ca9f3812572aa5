"""Alert rules (fire / resolve, one alert per finding) and delivery."""

from chronoguard.alerts.book import AlertBook, alert_message, alert_summary
from chronoguard.alerts.channels import (
    Channel,
    DeliveryError,
    EmailChannel,
    Notification,
    PagerDutyChannel,
    SeriesAlert,
    SlackChannel,
    WebhookChannel,
    build_channel,
    build_channels,
)
from chronoguard.alerts.delivery import (
    DELIVERY_LOCK,
    DeliveryReport,
    SeriesPlace,
    backoff,
    deliver_pending,
    in_quiet_hours,
    queue_notifications,
)
from chronoguard.alerts.incidents import cycle_incidents

__all__ = [
    "DELIVERY_LOCK",
    "AlertBook",
    "Channel",
    "DeliveryError",
    "DeliveryReport",
    "EmailChannel",
    "Notification",
    "PagerDutyChannel",
    "SeriesAlert",
    "SeriesPlace",
    "SlackChannel",
    "WebhookChannel",
    "alert_message",
    "alert_summary",
    "backoff",
    "build_channel",
    "build_channels",
    "cycle_incidents",
    "deliver_pending",
    "in_quiet_hours",
    "queue_notifications",
]
