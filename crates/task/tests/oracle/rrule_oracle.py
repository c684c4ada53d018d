"""Test-only oracle for crates/task's recurrence expansion: python-dateutil's rrule on the same RRULE text.

Reads JSON lines {"id", "rrule", "dtstart": "YYYY-MM-DDTHH:MM:SS", "zone", "limit", "years"} on stdin and writes
one JSON line per case: {"id", "dtstart", "local": [...], "utc": [...]} — the first `limit` occurrences within
`years` years of the start, as wall-clock times in the zone and as UTC instants — or {"id", "error"} when dateutil
refuses the rule, or {"id", "skipped"} when it takes too long (a rule that never matches: dateutil searches for
one up to the year 9999).

Two differences between dateutil and RFC 5545 are bridged here, not in the code under test:
* RFC 5545 counts the start as the first occurrence; dateutil yields only the rule's own dates. A case whose
  start is not one of them is re-anchored on the rule's first date (the same dates, now with the start among
  them), and that start is reported back.
* dateutil applies BYSETPOS to the first period only from the start on (a week starting on a Wednesday has no
  Monday to count); RFC 5545 takes the whole period and then drops what is before the start. With BYSETPOS the
  rule is expanded from the start of the start's period (the test only generates such rules with BYDAY or
  BYMONTHDAY, which leave nothing to take from the start), and COUNT is applied here, from the start.
"""

import json
import re
import signal
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr

WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


class Slow(Exception):
    pass


def too_slow(signum, frame):
    raise Slow()


def part(rule, name):
    m = re.search(r"(?:^|;)" + name + r"=([^;]*)", rule)
    return m.group(1) if m else None


def period_start(rule, start):
    freq = part(rule, "FREQ")
    if freq == "WEEKLY":
        wkst = WEEKDAYS.index(part(rule, "WKST") or "MO")
        return start - timedelta(days=(start.weekday() - wkst) % 7)
    if freq == "MONTHLY":
        return start.replace(day=1)
    if freq == "YEARLY":
        return start.replace(month=1, day=1)
    return start


def expand(rule, start, zone, limit, years):
    count = part(rule, "COUNT")
    without_count = ";".join(p for p in rule.split(";") if not p.startswith("COUNT="))
    until = part(rule, "UNTIL")
    tz = ZoneInfo(zone)
    aware = until is not None and until.endswith("Z")
    anchor = period_start(rule, start) if part(rule, "BYSETPOS") else start
    first = anchor.replace(tzinfo=tz) if aware else anchor
    end = (start.replace(tzinfo=tz) if aware else start) + relativedelta(years=years)
    dates = rrulestr(without_count, dtstart=first).between(first, end, inc=True)
    dates = [d.replace(tzinfo=None) for d in dates]
    dates = [d for d in dates if d >= start]
    if count is not None:
        dates = dates[: int(count)]
    return dates[:limit]


def main():
    signal.signal(signal.SIGALRM, too_slow)
    for line in sys.stdin:
        case = json.loads(line)
        start = datetime.fromisoformat(case["dtstart"])
        signal.alarm(3)
        try:
            dates = expand(case["rrule"], start, case["zone"], case["limit"], case["years"])
            if dates and dates[0] != start:
                start = dates[0]
                dates = expand(case["rrule"], start, case["zone"], case["limit"], case["years"])
        except ValueError as e:
            print(json.dumps({"id": case["id"], "error": str(e)}), flush=True)
            continue
        except Slow:
            print(json.dumps({"id": case["id"], "skipped": "dateutil took too long"}), flush=True)
            continue
        finally:
            signal.alarm(0)
        tz = ZoneInfo(case["zone"])
        utc = [d.replace(tzinfo=tz).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") for d in dates]
        print(
            json.dumps(
                {"id": case["id"], "dtstart": start.isoformat(), "local": [d.isoformat() for d in dates], "utc": utc}
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
