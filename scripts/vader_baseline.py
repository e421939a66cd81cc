#!/usr/bin/env python3
"""The Python VADER baseline for `vigie eval sentiment` and `vigie bench analyze`.

Reads JSON Lines on stdin, one object per row: {"id": ..., "text": ..., "lang": "en"|"fr"}.
Writes JSON Lines on stdout: {"id": ..., "label": "negative"|"neutral"|"positive", "compound": float}.
English rows go through vaderSentiment, French rows through vaderSentiment-fr (both from PyPI),
with VADER's documented thresholds: compound >= 0.05 positive, <= -0.05 negative, else neutral.
With --bench, prints only {"rows": n, "seconds": s} (timing of the scoring loop alone).

Set it up once (a virtual environment keeps it away from the system Python):
    python3 -m venv .venv-vader && .venv-vader/bin/pip install vaderSentiment==3.3.2 vaderSentiment-fr==1.3.4
"""
import json
import sys
import time
import warnings

warnings.filterwarnings("ignore")


def main():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer as English
    from vaderSentiment_fr.vaderSentiment import SentimentIntensityAnalyzer as French

    analyzers = {"en": English(), "fr": French()}
    bench = "--bench" in sys.argv[1:]
    rows = [json.loads(line) for line in sys.stdin if line.strip()]
    start = time.perf_counter()
    results = []
    for row in rows:
        analyzer = analyzers.get(row.get("lang") or "en", analyzers["en"])
        compound = analyzer.polarity_scores(row.get("text") or "")["compound"]
        label = "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
        results.append({"id": row.get("id"), "label": label, "compound": compound})
    seconds = time.perf_counter() - start
    out = sys.stdout
    if bench:
        out.write(json.dumps({"rows": len(rows), "seconds": seconds}) + "\n")
        return
    for r in results:
        out.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
