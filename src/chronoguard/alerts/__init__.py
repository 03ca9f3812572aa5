"""Alert rules (fire / resolve, one alert per finding) and delivery."""

from chronoguard.alerts.book import AlertBook, alert_message, alert_summary

__all__ = ["AlertBook", "alert_message", "alert_summary"]
