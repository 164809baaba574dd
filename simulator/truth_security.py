"""Ground truth for open security alerts (re-exported by `simulator.truth`)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from simulator.model import SecurityAlert
from simulator.truth_common import days, median_or_none, org_of, week_end, week_start, weeks_between


def _closed_at(alert: SecurityAlert) -> datetime | None:
    """When the alert stopped being open: fixed or dismissed (whichever the model recorded)."""
    moments = [moment for moment in (alert.fixed_at, alert.dismissed_at) if moment is not None]
    return min(moments) if moments else None


def security_alerts(source: Any) -> list[dict]:
    """Code-scanning and Dependabot alerts per team, repository, week and severity.

    `source`: the Simulation or its `Org` (GitHub only). Severity = the model's alert
    severity: the code-scanning *rule* severity (note / warning / error) and the Dependabot
    advisory severity (low / medium / high / critical) — two disjoint vocabularies, so the
    kinds never share a row; `kind` is therefore not a column.
      * `open_alerts`: alerts created before the end of the week (next Monday 00:00 UTC,
        the anchor's week included: nothing happens after the anchor) and neither fixed
        nor dismissed before it;
      * `opened_alerts`: alerts created in the week;
      * `fixed_alerts`: alerts whose `fixed_at` falls in the week (a dismissal is not a fix);
      * `dismissed_alerts`: alerts dismissed in the week (informational);
      * `median_days_to_fix`: median of (fixed_at - created_at) in days over `fixed_alerts`
        (None without any).
    Weeks: from the week of the earliest alert in the org to the week of the anchor; a row
    is returned when any count is non-zero. Sorted by (team, repo, week_start, severity).
    """
    org = org_of(source)
    alerts = [alert for repo in org.repositories for alert in org.security_alerts.get(repo.full_name, [])]
    if not alerts:
        return []
    weeks = weeks_between(week_start(min(alert.created_at for alert in alerts)), week_start(org.anchor))
    buckets: dict[tuple[str, date, str], dict[str, Any]] = defaultdict(
        lambda: {"open": 0, "opened": 0, "fixed": 0, "dismissed": 0, "fix_days": []})
    for alert in alerts:
        buckets[(alert.repo, week_start(alert.created_at), alert.severity)]["opened"] += 1
        if alert.fixed_at is not None:
            bucket = buckets[(alert.repo, week_start(alert.fixed_at), alert.severity)]
            bucket["fixed"] += 1
            bucket["fix_days"].append(days(alert.fixed_at - alert.created_at))
        if alert.dismissed_at is not None:
            buckets[(alert.repo, week_start(alert.dismissed_at), alert.severity)]["dismissed"] += 1
        closed = _closed_at(alert)
        for week in weeks:
            end = week_end(week)
            if alert.created_at < end and (closed is None or closed >= end):
                buckets[(alert.repo, week, alert.severity)]["open"] += 1
    rows = []
    for (repo, week, severity), bucket in buckets.items():
        rows.append({
            "team": org.team_of(repo), "repo": repo, "week_start": week, "severity": severity,
            "open_alerts": bucket["open"], "opened_alerts": bucket["opened"], "fixed_alerts": bucket["fixed"],
            "dismissed_alerts": bucket["dismissed"], "median_days_to_fix": median_or_none(bucket["fix_days"]),
        })
    return sorted(rows, key=lambda row: (row["team"], row["repo"], row["week_start"], row["severity"]))
