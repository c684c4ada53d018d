"""A real CalDAV client (python-caldav, PyPI) against Pinit's CalDAV server: the oracle of
crates/task/tests/caldav.rs. Reads one JSON request on stdin, prints one JSON answer on stdout.

Request: {"url": ".../dav/", "headers": {...}, "username": ..., "password": ..., "phase": "first" | "since"
          | "write" | "tasks", "token": <a sync token from the first phase>, "start": ISO, "end": ISO,
          "prerequisite": <the UID of a task made in Pinit, for "tasks">}
"""
import json
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

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


EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//python-caldav test//EN
BEGIN:VEVENT
UID:client-1@example.com
DTSTAMP:20261201T000000Z
DTSTART;TZID=Europe/Berlin:20261204T100000
DTEND;TZID=Europe/Berlin:20261204T104500
SUMMARY:Dentist
LOCATION:Clinic, 2nd floor
X-CLIENT-FLAG:keep me
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER:-PT15M
DESCRIPTION:Leave now
END:VALARM
END:VEVENT
END:VCALENDAR
"""


def event_fields(obj):
    cal = icalendar.Calendar.from_ical(obj.data)
    ev = next(iter(cal.walk("VEVENT")))
    return {
        "uid": str(ev.get("UID")),
        "summary": str(ev.get("SUMMARY")),
        "dtstart": ev.get("DTSTART").dt.isoformat(),
        "dtend": ev.get("DTEND").dt.isoformat(),
        "location": str(ev.get("LOCATION")),
        "flag": str(ev.get("X-CLIENT-FLAG")),
        "description": str(ev.get("DESCRIPTION")) if ev.get("DESCRIPTION") else None,
        "alarms": [str(a.get("TRIGGER").to_ical(), "ascii") for a in ev.walk("VALARM")],
    }


def write(cal):
    out = {}
    created = cal.save_event(EVENT)
    out["created"] = event_fields(cal.event_by_uid("client-1@example.com"))
    out["created_url"] = str(created.url)
    event = cal.event_by_uid("client-1@example.com")
    component = event.icalendar_component
    component["SUMMARY"] = icalendar.vText("Dentist (moved)")
    berlin = ZoneInfo("Europe/Berlin")
    component.pop("DTSTART")
    component.pop("DTEND")
    component.add("DTSTART", datetime(2026, 12, 4, 11, 0, tzinfo=berlin))
    component.add("DTEND", datetime(2026, 12, 4, 11, 45, tzinfo=berlin))
    event.save()
    out["edited"] = event_fields(cal.event_by_uid("client-1@example.com"))
    cal.event_by_uid("client-1@example.com").delete()
    try:
        cal.event_by_uid("client-1@example.com")
        out["deleted"] = False
    except caldav.error.NotFoundError:
        out["deleted"] = True
    return out


TODO = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//python-caldav test//EN
BEGIN:VTODO
UID:todo-1@example.com
DTSTAMP:20261201T000000Z
SUMMARY:Write report
DUE;VALUE=DATE:20261210
PRIORITY:1
CATEGORIES:work
RELATED-TO;RELTYPE=DEPENDS-ON:{prerequisite}
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER:-PT15M
DESCRIPTION:Due soon
END:VALARM
END:VTODO
END:VCALENDAR
"""


def todo_fields(obj):
    cal = icalendar.Calendar.from_ical(obj.data)
    todo = next(iter(cal.walk("VTODO")))
    return {
        "uid": str(todo.get("UID")),
        "summary": str(todo.get("SUMMARY")),
        "due": todo.get("DUE").dt.isoformat() if todo.get("DUE") else None,
        "priority": int(todo.get("PRIORITY")) if todo.get("PRIORITY") is not None else None,
        "status": str(todo.get("STATUS")),
        "categories": [str(c) for c in todo.get("CATEGORIES").cats] if todo.get("CATEGORIES") else [],
        "related": str(todo.get("RELATED-TO")) if todo.get("RELATED-TO") else None,
        "alarms": [str(a.get("TRIGGER").to_ical(), "ascii") for a in todo.walk("VALARM")],
    }


def tasks(cal, prerequisite):
    """Creates a to-do that waits for a task made in Pinit, completes both from the app, renames it."""
    out = {}
    cal.save_todo(TODO.replace("{prerequisite}", prerequisite))
    out["created"] = todo_fields(cal.todo_by_uid("todo-1@example.com"))
    out["open"] = sorted(todo_fields(t)["summary"] for t in cal.todos())
    cal.todo_by_uid(prerequisite).complete()
    cal.todo_by_uid("todo-1@example.com").complete()
    out["open_after"] = sorted(todo_fields(t)["summary"] for t in cal.todos())
    out["all_after"] = sorted(
        todo_fields(t)["summary"] for t in cal.todos(include_completed=True)
    )
    todo = cal.todo_by_uid("todo-1@example.com")
    todo.icalendar_component["SUMMARY"] = icalendar.vText("Report v2")
    todo.save()
    out["edited"] = todo_fields(cal.todo_by_uid("todo-1@example.com"))
    out["url"] = str(cal.todo_by_uid("todo-1@example.com").url)
    return out


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
    elif req["phase"] == "write":
        out.update(write(cal))
    elif req["phase"] == "tasks":
        tasks_calendar = next(c for c in calendars if str(c.url).endswith("/tasks/"))
        out.update(tasks(tasks_calendar, req["prerequisite"]))
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
