"""A real CalDAV client (python-caldav, PyPI) against Pinit's CalDAV server: the oracle of
crates/task/tests/caldav.rs. Reads one JSON request on stdin, prints one JSON answer on stdout.

Request: {"url": ".../dav/", "headers": {...}, "username": ..., "password": ..., "phase": "first" | "since",
          "token": <a sync token from the first phase>, "start": ISO, "end": ISO}
"""
import json
import sys
from datetime import datetime

import caldav
import icalendar


def summary_of(obj):
    cal = icalendar.Calendar.from_ical(obj.data)
    events = [c for c in cal.walk("VEVENT")]
    return {
        "url": str(obj.url),
        "uid": str(events[0].get("UID")) if events else None,
        "summary": str(events[0].get("SUMMARY")) if events else None,
        "dtstart": events[0].get("DTSTART").dt.isoformat() if events else None,
        "tzid": events[0].get("DTSTART").params.get("TZID") if events else None,
        "timezones": [str(tz.get("TZID")) for tz in cal.walk("VTIMEZONE")],
    }


def main():
    req = json.load(sys.stdin)
    client = caldav.DAVClient(
        url=req["url"],
        username=req.get("username"),
        password=req.get("password"),
        headers=req.get("headers", {}),
    )
    principal = client.principal()
    calendars = principal.calendars()
    out = {
        "principal": str(principal.url),
        "calendars": [{"url": str(c.url), "name": c.get_display_name()} for c in calendars],
    }
    cal = calendars[0]
    if req["phase"] == "first":
        out["events"] = sorted((summary_of(e) for e in cal.events()), key=lambda e: e["url"])
        found = cal.search(
            start=datetime.fromisoformat(req["start"]),
            end=datetime.fromisoformat(req["end"]),
            event=True,
            expand=False,
        )
        out["in_range"] = sorted(summary_of(e)["summary"] for e in found)
        synced = cal.objects_by_sync_token(load_objects=True, disable_fallback=True)
        out["sync_token"] = synced.sync_token
        out["synced"] = sorted(summary_of(o)["summary"] for o in synced)
    else:
        synced = cal.objects_by_sync_token(
            sync_token=req["token"], load_objects=True, disable_fallback=True
        )
        out["sync_token"] = synced.sync_token
        out["changed"] = sorted(summary_of(o)["summary"] for o in synced if o.data)
        out["deleted"] = sorted(str(u) for u in synced.deleted_urls)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
