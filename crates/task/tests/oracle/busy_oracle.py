"""Test-only oracle for crates/task's busy time (tests/busy_oracle.rs): `recurring-ical-events` expands another
calendar's events over a window, as a calendar application would show them.

Reads JSON lines {"id", "ics", "from", "to", "zone"} on stdin (from/to: unix seconds; zone: the reader's IANA zone,
in which floating times and dates are read) and writes one JSON line per case: {"id", "blocks": [[uid, start, end,
all_day, title], ...]} (start/end unix seconds) or {"id", "error"}.

A block is every occurrence recurring_ical_events.of(calendar).between(from, to) returns, minus those with
STATUS:CANCELLED or TRANSP:TRANSPARENT (cancelled and free time is not busy). X-WR-TIMEZONE is applied by
recurring-ical-events itself (the x-wr-timezone package).
"""

import json
import sys
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events


def instant(value, zone):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        return int(value.timestamp())
    if isinstance(value, date):
        return int(datetime.combine(value, time(0, 0), tzinfo=zone).timestamp())
    raise ValueError(f"not a date or date-time: {value!r}")


def answer(case):
    zone = ZoneInfo(case["zone"])
    calendar = icalendar.Calendar.from_ical(case["ics"].encode("utf-8"))
    start = datetime.fromtimestamp(case["from"], tz=timezone.utc)
    stop = datetime.fromtimestamp(case["to"], tz=timezone.utc)
    blocks = []
    for event in recurring_ical_events.of(calendar).between(start, stop):
        status = str(event.get("STATUS", "")).upper()
        transp = str(event.get("TRANSP", "")).upper()
        if status == "CANCELLED" or transp == "TRANSPARENT":
            continue
        dtstart = event["DTSTART"].dt
        all_day = isinstance(dtstart, date) and not isinstance(dtstart, datetime)
        if "DTEND" in event:
            dtend = event["DTEND"].dt
        elif "DURATION" in event:
            dtend = dtstart + event["DURATION"].dt
        elif all_day:
            dtend = dtstart + timedelta(days=1)
        else:
            dtend = dtstart
        blocks.append(
            [
                str(event.get("UID")),
                instant(dtstart, zone),
                instant(dtend, zone),
                all_day,
                str(event.get("SUMMARY", "")),
            ]
        )
    blocks.sort()
    return {"id": case["id"], "blocks": blocks}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        try:
            out = answer(case)
        except Exception as e:  # reported per case: the Rust side fails with it
            out = {"id": case.get("id"), "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
