#!/usr/bin/env python3
"""Builds the demo corpus bundled in the vigie binary.

Source: ../shared/data/twitter-us-airline-sentiment/tweets-dev.csv.gz
(CrowdFlower "Twitter US Airline Sentiment", CC BY-NC-SA 4.0; see
crates/vigie/assets/demo/LICENSE.md). Every row becomes one line of Vigie's
import schema (JSON Lines). The sentiment labels are *not* copied: the demo
shows what Vigie computes, and the labelled rows stay for evaluation.

`tweet_created` is local time of the original export (US Pacific, UTC-08:00
in February 2015); it is converted to UTC.

Usage: python3 scripts/build_demo_corpus.py [SHARED_DIR]
"""
import csv
import gzip
import io
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
shared = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared"
src = shared / "data" / "twitter-us-airline-sentiment" / "tweets-dev.csv.gz"
out = ROOT / "crates" / "vigie" / "assets" / "demo" / "airline-tweets.jsonl.gz"

pacific = timezone(timedelta(hours=-8))
rows = []
with gzip.open(src, "rt", encoding="utf-8", newline="") as f:
    for r in csv.DictReader(f):
        created = datetime.strptime(r["tweet_created"], "%m/%d/%Y %H:%M").replace(tzinfo=pacific)
        rows.append({
            "id": r["tweet_id"],
            "url": f"https://twitter.com/i/web/status/{r['tweet_id']}",
            "text": r["text"],
            "published_at": created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": "twitter",
            "site": "twitter.com",
        })
rows.sort(key=lambda r: (r["published_at"], r["id"]))
buf = io.BytesIO()
# mtime=0 keeps the output byte-identical from run to run.
with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as gz:
    for r in rows:
        gz.write((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8"))
out.write_bytes(buf.getvalue())
print(f"{len(rows)} mentions -> {out.relative_to(ROOT)} ({out.stat().st_size} bytes)")
