"""Test-only oracle for crates/task's iCalendar writer: Python's `icalendar` reads what Pinit wrote and
`recurring-ical-events` expands it.

Reads JSON lines {"id", "ics", "from", "to", "samples": [unix seconds...]} on stdin and writes one JSON line per
case: {"id", "events": [...], "occurrences": [...], "zones": {...}, "calendar": {...}} or {"id", "error"}.

* events: every VEVENT as icalendar decodes it — uid, summary, description, categories, sequence, dtstart (UTC
  instant, seconds) and its TZID, recurrence-id (UTC seconds), the state (X-PINIT-STATE).
* occurrences: recurring_ical_events.of(calendar).between(from, to): [uid, start in UTC seconds, summary].
* zones: for every VTIMEZONE, read from its own observances (not looked up by name: lookup_tzid=False), the UTC
  offset in seconds at each sample instant.
* calendar: NAME, COLOR, REFRESH-INTERVAL, X-PUBLISHED-TTL as read.
"""

import json
import sys
from datetime import datetime, timezone

import icalendar
import recurring_ical_events
from icalendar import parser


def seconds(value):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"floating time {value}")
        return int(value.timestamp())
    raise ValueError(f"not a date-time: {value!r}")


def text(component, name):
    value = component.get(name)
    return None if value is None else str(value)


def answer(case):
    calendar = icalendar.Calendar.from_ical(case["ics"].encode("utf-8"))
    events = []
    for event in calendar.walk("VEVENT"):
        start = event.get("dtstart")
        recurrence_id = event.get("recurrence-id")
        categories = event.get("categories")
        cats = []
        if categories is not None:
            for c in categories if isinstance(categories, list) else [categories]:
                cats.extend(str(x) for x in c.cats)
        events.append(
            {
                "uid": text(event, "uid"),
                "summary": text(event, "summary"),
                "description": text(event, "description"),
                "categories": cats,
                "sequence": int(event.get("sequence", 0)),
                "dtstart": seconds(start.dt),
                "tzid": start.params.get("TZID"),
                "recurrenceId": None if recurrence_id is None else seconds(recurrence_id.dt),
                "state": text(event, "x-pinit-state"),
                "duration": None if event.get("duration") is None else int(event.decoded("duration").total_seconds()),
                "dtend": None if event.get("dtend") is None else seconds(event.decoded("dtend")),
            }
        )
    begin = datetime.fromtimestamp(case["from"], timezone.utc)
    end = datetime.fromtimestamp(case["to"], timezone.utc)
    occurrences = [
        [str(o.get("uid")), seconds(o.get("dtstart").dt), str(o.get("summary"))]
        for o in recurring_ical_events.of(calendar).between(begin, end)
    ]
    zones = {}
    for vtz in calendar.walk("VTIMEZONE"):
        tz = vtz.to_tz(lookup_tzid=False)
        zones[str(vtz["TZID"])] = [
            int(datetime.fromtimestamp(s, timezone.utc).astimezone(tz).utcoffset().total_seconds())
            for s in case.get("samples", [])
        ]
    # icalendar 7 reads RFC 7986's NAME as an unknown property (still escaped): unescaped here as TEXT.
    cal = {
        name: None if calendar.get(name) is None else parser.unescape_backslash(calendar.get(name).to_ical().decode())
        for name in ("NAME", "COLOR", "REFRESH-INTERVAL", "X-PUBLISHED-TTL", "METHOD")
    }
    return {"id": case["id"], "events": events, "occurrences": occurrences, "zones": zones, "calendar": cal}


for line in sys.stdin:
    case = json.loads(line)
    try:
        out = answer(case)
    except Exception as e:  # reported to the test, which fails naming the case
        out = {"id": case.get("id"), "error": f"{type(e).__name__}: {e}"}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
