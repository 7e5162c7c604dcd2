"""Prometheus metrics of the abuse limits (issue 12): what an operator alerts on.

Each process counts its own; Prometheus sums them. `cskh serve` shows them at
/metrics when CSKH_METRICS_TOKEN is set (README, docs/SECURITY.md).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

REGISTRY = CollectorRegistry(auto_describe=True)

OTP_REQUESTS = Counter(
    "cskh_otp_requests",
    "One-time code requests by outcome (sent, wait, rate_limited, locked, busy).",
    ["outcome"],
    registry=REGISTRY,
)
OTP_REFUSED = Counter(
    "cskh_otp_refused",
    "Code requests refused by a limit, by the limit that refused them.",
    ["limit"],
    registry=REGISTRY,
)
SMS_BUDGET_USED = Gauge(
    "cskh_sms_budget_used_ratio",
    "Share of the global SMS budget used in the current minute or day (1 = spent).",
    ["window"],
    registry=REGISTRY,
)
SMS_BUDGET_ALERTS = Counter(
    "cskh_sms_budget_alerts",
    "Times the SMS budget passed its alert threshold or ran out.",
    registry=REGISTRY,
)
LOCKOUTS = Counter(
    "cskh_lockouts",
    "Locks earned by wrong codes or passwords, by what was locked.",
    ["scope"],
    registry=REGISTRY,
)
THROTTLED = Counter(
    "cskh_throttled",
    "Web chat traffic slowed or refused, by what (message, upload, socket, quota).",
    ["what"],
    registry=REGISTRY,
)
MEDIA_REMOVED = Counter(
    "cskh_media_removed",
    "Stored media files removed by the cleanup job to stay under the quotas.",
    registry=REGISTRY,
)
