"""An independent reader of the CSV export (`GET /v2/export?format=csv`): the oracle of
crates/task/tests/api/export.rs. Python's own zipfile and csv modules (standard library) open the ZIP and read
every file, strictly (RFC 4180 quoting: `strict=True` fails on a stray quote). Reads one JSON request on stdin,
prints one JSON answer on stdout.

Request: {"zip": "<the archive, hex>"}
Answer:  {"names": [...], "files": {name: {"header": [...], "rows": [{column: value}], "lines": n}},
          "same_as_python": {name: bool}, "descriptors": {name: bool}, "testzip": null}
"""
import csv
import io
import json
import sys
import zipfile


def main():
    request = json.load(sys.stdin)
    data = bytes.fromhex(request["zip"])
    archive = zipfile.ZipFile(io.BytesIO(data))
    answer = {"names": archive.namelist(), "files": {}, "same_as_python": {}, "descriptors": {},
              "testzip": archive.testzip()}
    for info in archive.infolist():
        raw = archive.read(info).decode("utf-8")
        # Bit 3: sizes and CRC in a data descriptor after the data (written as a stream).
        answer["descriptors"][info.filename] = bool(info.flag_bits & 0x08)
        reader = csv.reader(io.StringIO(raw, newline=""), strict=True)
        rows = list(reader)
        # Python's writer, minimal quoting and CRLF (RFC 4180), writes the same rows to the same bytes.
        again = io.StringIO(newline="")
        csv.writer(again, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL).writerows(rows)
        answer["same_as_python"][info.filename] = again.getvalue() == raw
        header, body = rows[0], rows[1:]
        answer["files"][info.filename] = {
            "header": header,
            "rows": [dict(zip(header, row)) for row in body],
            "widths": sorted({len(row) for row in body}),
        }
    json.dump(answer, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
