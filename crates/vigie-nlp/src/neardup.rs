//! Near-duplicate detection and story grouping.
//!
//! Users see one *story* with its copies: a wire article syndicated with
//! another title and footer, retweets and quotes with a few words added, the
//! same complaint pasted on three forums with small edits. Alert counts depend
//! on it, so a false merge of two different texts is worse than a missed copy:
//! every choice below was measured, and leans to precision.
//!
//! # Signature
//!
//! [`signature`] normalises the title and the text (case, accents, ligatures,
//! repeated letters `sooo` = `so`, apostrophes inside words; links,
//! `RT @user:`, `MT @user`, `via @user`, hashtags' `#` and punctuation set
//! aside), cuts them into **word 3-shingles** (the title and the body apart)
//! and hashes each shingle to 16 bits. Texts of fewer than [`MIN_WORDS`] (5)
//! words get no signature: `thanks @united!` tells nothing about copying.
//! `@handles` stay tokens (not words): the same short text sent to two brands
//! is two mentions, the same long text is one story either way.
//!
//! A signature is [`SIGNATURE_BYTES`] (99) bytes: version, shingle count,
//! either the **shingles themselves** when there are at most 32 (most tweets:
//! similarity is then exact, which matters because the hard negatives,
//! templates and short complaints sharing a frame, are short), or a
//! **MinHash** of 64 functions keeping one byte each (b-bit MinHash; standard
//! error of the similarity about 0.065 near 0.5, no bias, measured on 1,595
//! edited copies of long French reviews); and the **lead**, the body's first
//! 16 distinct shingles in reading order (32 bytes). [`similarity`] estimates
//! the Jaccard similarity of the shingle sets.
//!
//! # When two mentions are one story
//!
//! ([`StoryConfig::same_story`], defaults below):
//!
//! - similarity ≥ [`DEFAULT_THRESHOLD`] (0.7); or
//! - similarity ≥ [`DEFAULT_LONG_COPY_THRESHOLD`] (0.5) and at least
//!   [`DEFAULT_LONG_COPY_MIN_SHARED`] (14) shared shingles, estimated as
//!   J·(|A|+|B|)/(1+J): a long copy with its own title, footer or added
//!   paragraph. Fourteen shared 3-shingles is a run of about 16 identical
//!   words; templates and complaints that share a frame share fewer;
//! - and, for both, **the leads meet**: at least half
//!   ([`DEFAULT_MIN_LEAD_OVERLAP`]) of one text's lead (the first 8 shingles
//!   of its body) is found in the other text: among all its shingles when it
//!   has at most 32, else among the first 16 of its body ([`lead_overlap`]).
//!   Copies share their beginning (a syndicated article keeps the wire's
//!   lead under its own title; a retweet or quote puts at most a few words
//!   before it); two press releases of one company ending with its "about"
//!   paragraph, or two replies with the same long signature, share only
//!   their end, which can be most of the text.
//!
//! How it was chosen, on `testdata/neardup.tsv` (88 labelled pairs written for
//! it: 42 copies, 46 hard negatives of which 3 were added with the lead) and
//! on the 11,681 airline tweets of the shared data (read by eye, pair by pair
//! near the edge):
//!
//! - 3-word shingles separate best. With exact Jaccard (on the first 82
//!   pairs) the highest negative was 0.86 with single words, 0.73 with word
//!   pairs, 0.60 with triples (a one-time code message differing only by its
//!   number), while 36, 36 and 40 of the 41 copies scored above it. Weighting
//!   words with digits more, or dropping handles, changed neither the recall
//!   nor much the highest negative; handles are kept so that two people's
//!   identical short message to two brands stays two stories.
//! - Between 0.6 and 0.7 on the airline tweets sit real copies (a headline
//!   tweeted by many local papers, each adding its name) but also generic
//!   replies (`can you please follow for a DM`); a one-word substitution in a
//!   template of fewer than ~18 words stays under 0.7. Hence 0.7 for short
//!   texts.
//! - Syndicated articles with their own title and footer measure 0.60–0.66;
//!   no negative of the first 85 pairs with 14 shared shingles or more
//!   reached 0.5 (the highest: 0.46, a crisis statement reused for another
//!   event; two press releases sharing the company boilerplate, each with a
//!   long news part: 0.36).
//! - The lead was added (signature version 2) after QA found two press
//!   releases of one company, ending with the same "à propos" paragraph,
//!   grouped as one story. Three such pairs were added to the labelled set
//!   (that one, English releases whose news is one sentence, French customer
//!   service replies with the same signature): similarities 0.51, 0.55, 0.61,
//!   all merged by the long-copy rule; ten pairs of one-sentence releases
//!   sharing one boilerplate measured 0.67–0.81, 8 of them above the general
//!   threshold. Lead overlaps: 0, 0.12 and 0 for the three pairs, 0–0.38
//!   for the ten (0.38 for two releases both opening `Northwind Logistics
//!   today announced`); 0.88 or 1.0 for every copy found (0.62 for the one
//!   missed). Hence half, required of both rules. Comparing the titles was
//!   considered and left out: 5 of the 8 labelled copies with a title on both
//!   sides have their own.
//! - The lead is looked for in the other text's first 16 shingles, not 8:
//!   words put before one side of each of the 41 copies found (a comment, a
//!   dateline), 4, 6, 8 and 12 of them lost 3, 22, 24 and 32 copies with 8;
//!   with 16, they lose 0, 1, 4 and 9 (without the lead: 0, 0, 1 and 2).
//!
//! Measured with these defaults: **no false merge on the 46 negatives**
//! (precision 1.0; 43 before the lead, when the 3 boilerplate pairs added
//! with it were merged), **41 of 42 copies found** (recall 0.976, unchanged
//! by the lead; the miss is a passenger's post rewritten with several small
//! edits, similarity 0.485). `cargo test -p vigie-nlp --test neardup --
//! --ignored --nocapture` prints every pair's numbers.
//! On the airline tweets (one week of February 2015, grouped oldest first):
//! 748 tweets too short for a signature, 76 copies in 45 stories, all of them
//! read and all real copies (the same text sent to several airlines, headline
//! tweets from several papers, a quote storm, a passenger posting twice);
//! the same with and without the lead (the report is identical).
//! Missed: headline variants whose added source names differ by more than a
//! word (similarity 0.69, 13 shingles), and most of a quote storm whose text
//! has four words (`Our fleet's on fleek`), below [`MIN_WORDS`].
//!
//! # Stories
//!
//! [`StoryIndex`] files each signature under 16 LSH bands of 3 MinHash bytes
//! (computed for exact signatures too): a copy of similarity 0.5 shares a band
//! with probability 0.88, of 0.7 with 0.998. Each band is a table of
//! `capacity` cells holding one mention each, so [`StoryIndex::assign`] reads
//! 16 cells, checks at most 16 candidates and writes 16 cells, whatever the
//! number of mentions held: O(bands). A cell holds the latest mention filed
//! there, except that a member of the same story younger than half the window
//! keeps its cell: the first copies carry a story's common text, and a later
//! variant must not hide them (a test shows the difference). The oldest
//! mention is evicted beyond `capacity`, and its cells cleared.
//!
//! **Memory per indexed mention: 178 bytes** (ids 16, signature 98 of which
//! the lead 32, band cells 64; the process's resident memory grew by 180–210
//! bytes a mention in the benchmark, 140–165 before the lead). The band cells
//! (64 bytes × capacity) are allocated zeroed when the index is made, so the
//! system commits them as they are written; the rest grows with the mentions
//! held.
//!
//! # Cost
//!
//! Measured on one core of the development machine (AMD EPYC, 2 cores shared
//! with other builds: ranges over runs at load averages from 2 to 6; release
//! build, `cargo bench -p vigie-nlp --bench neardup_speed`):
//!
//! | what | per second | each |
//! |---|---|---|
//! | signature, real airline tweets (18 words) | 445,000–550,000 | 1.8–2.3 µs |
//! | signature, labelled articles and long posts (62 words) | 80,000–110,000 | 9–12.5 µs |
//! | assign, index of 200,000, filling | 200,000–310,000 | 3.2–5 µs |
//! | assign, index of 200,000, full (each insert evicts) | 130,000–230,000 | 4.3–7.6 µs |
//!
//! The cost of `assign` is mostly cache misses on the band cells and the
//! candidates (16 + up to 16 random reads); loads are issued together so
//! their misses overlap. A candidate's lead is read only when the whole texts
//! are similar. Adding the lead cost 0.1–0.6 µs an `assign` (most with
//! copy-heavy mentions) and nothing measurable to `signature`, in one run of
//! each version back to back at a load average of 2; both fell within or
//! below the table's ranges, which are kept.
//!
//! The story report on the airline tweets is
//! `cargo bench -p vigie-nlp --bench neardup_airline` (it needs `../shared`).
//!
//! # Limits
//!
//! - A template whose variable part is a small share of a long text (a long
//!   notification differing by one number) is one story: Jaccard cannot tell
//!   it from a copy. So is an identical short text (5 words or more) written
//!   by two people.
//! - Texts sharing a boilerplate at their beginning *and* their end (a press
//!   release opening with the company's long self-description) meet by their
//!   leads: only their middle tells them apart, and it may be too short.
//! - A quote whose comment is longer than the quoted text, and a copy rewritten
//!   throughout, are missed; so, often, is a copy with more than about 6
//!   words put before it when the longer text has over 32 shingles (its lead
//!   is beyond the other's first 16 shingles), or whose opening was rewritten.
//! - Long texts are compared by their MinHash: pairs near 0.5 can fall either
//!   side (standard error 0.065).
//! - Only the first [`MAX_WORDS`] words are read.
//! - Scripts without spaces (Chinese, Japanese, Korean, Thai) are read one
//!   character per word.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Fewer words than this (handles, links, retweet markers and punctuation not
/// counted) and a text gets no signature: too little to tell a copy from a
/// coincidence (`thanks @united!`).
pub const MIN_WORDS: usize = 5;

/// Words per shingle.
const SHINGLE_WORDS: usize = 3;

/// Words read from one mention (title and body together); the rest of a very
/// long text is ignored, which bounds the cost of a signature.
pub const MAX_WORDS: usize = 5_000;

/// Texts with at most this many distinct shingles keep them all (exact
/// Jaccard); longer texts keep a MinHash sketch.
const EXACT_MAX: usize = 32;

/// MinHash functions (one byte of each is kept).
const HASHES: usize = 64;

/// Bytes of a signature's payload: 32 shingles × 2 bytes, or 64 MinHash bytes.
const PAYLOAD: usize = 64;

/// The body's first distinct shingles (in reading order) kept in a signature,
/// to tell a copy from texts sharing only an end…
const LEAD_KEPT: usize = 16;

/// …and its *lead*, the first of them, looked for in the other text (in its
/// first 16 shingles when it is long: copies with a comment of up to about
/// 12 words put before them still find it).
const LEAD: usize = 8;

/// LSH: bands of [`ROWS`] MinHash bytes each (48 of the 64 bytes are used).
const BANDS: usize = 16;
const ROWS: usize = 3;

/// Version of the signature scheme, first byte of [`Signature::to_bytes`].
/// Signatures of different versions are not comparable: recompute on change.
pub const SIGNATURE_VERSION: u8 = 2;

/// Length of [`Signature::to_bytes`].
pub const SIGNATURE_BYTES: usize = 3 + PAYLOAD + 2 * LEAD_KEPT;

/// Estimated Jaccard similarity of word 3-shingles at or above which two
/// mentions are one story (see the module docs for how it was chosen).
pub const DEFAULT_THRESHOLD: f32 = 0.7;

/// Lower similarity accepted for long copies (syndicated articles with their
/// own title and footer, a post with an added paragraph)…
pub const DEFAULT_LONG_COPY_THRESHOLD: f32 = 0.5;

/// …when the two texts share at least this many shingles (estimated).
pub const DEFAULT_LONG_COPY_MIN_SHARED: f32 = 14.0;

/// Share of one text's lead (first 8 body shingles) that the other must have
/// for either rule: texts sharing only their end (a company's "about"
/// paragraph, a signature, a forum footer) are not copies.
pub const DEFAULT_MIN_LEAD_OVERLAP: f32 = 0.5;

// ---------------------------------------------------------------------------
// Hashing
// ---------------------------------------------------------------------------

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// splitmix64's finaliser: a bijective mix of all 64 bits.
#[inline]
const fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The MinHash functions `h_i(x) = (MUL[i]·x + ADD[i]) >> 32` (multiply-add-shift
/// on the 16-bit shingle values), from a fixed seed: part of the format.
const fn minhash_params(seed: u64) -> [u64; HASHES] {
    let mut out = [0u64; HASHES];
    let mut state = seed;
    let mut i = 0;
    while i < HASHES {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        out[i] = mix64(state);
        i += 1;
    }
    out
}

const MUL: [u64; HASHES] = {
    let mut a = minhash_params(0x5649_4749_4531);
    let mut i = 0;
    while i < HASHES {
        a[i] |= 1;
        i += 1;
    }
    a
};
const ADD: [u64; HASHES] = minhash_params(0x4e44_5550_3031);

/// The MinHash bytes (low byte of each minimum) of a set of shingle values;
/// only the first `rows` functions are computed (the rest are `0xff`).
fn minhash_bytes(values: &[u16], rows: usize) -> [u8; HASHES] {
    let mut out = [0xffu8; HASHES];
    // Eight functions at a time over the values: independent minima that the
    // compiler keeps in registers.
    for (group, chunk) in out[..rows.min(HASHES)].chunks_mut(8).enumerate() {
        let base = group * 8;
        let mul: [u64; 8] = std::array::from_fn(|k| MUL[(base + k) % HASHES]);
        let add: [u64; 8] = std::array::from_fn(|k| ADD[(base + k) % HASHES]);
        let mut mins = [u32::MAX; 8];
        for &x in values {
            let x = u64::from(x);
            for k in 0..8 {
                mins[k] = mins[k].min((mul[k].wrapping_mul(x).wrapping_add(add[k]) >> 32) as u32);
            }
        }
        for (o, m) in chunk.iter_mut().zip(mins) {
            *o = m as u8;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokKind {
    Word,
    Handle,
    /// Between the title and the body: no shingle spans it.
    Break,
}

/// A token being read: FNV-1a of its folded characters, repeated letters
/// collapsed as they arrive (`sooo`, `soo` and `so` hash alike).
struct TokenBuilder {
    hash: u64,
    len: usize,
    last: char,
    /// The first folded bytes, to recognise `rt`, `mt`, `via`, `cc`.
    head: [u8; 4],
}

impl TokenBuilder {
    const fn new() -> Self {
        TokenBuilder {
            hash: FNV_OFFSET,
            len: 0,
            last: '\0',
            head: [0; 4],
        }
    }

    #[inline]
    fn push_folded(&mut self, f: char) {
        if f == self.last && !f.is_ascii_digit() {
            return;
        }
        self.last = f;
        let mut utf8 = [0u8; 4];
        for &b in f.encode_utf8(&mut utf8).as_bytes() {
            if self.len < self.head.len() {
                self.head[self.len] = b;
            }
            self.len += 1;
            self.hash = (self.hash ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
    }

    /// Appends the folded form of `c`: lower case, no accents, ligatures and
    /// the letters NFKD leaves alone spelled out (as `vigie_query`'s tokenizer).
    #[inline]
    fn push(&mut self, c: char) {
        if c.is_ascii() {
            self.push_folded(c.to_ascii_lowercase());
            return;
        }
        for lower in c.to_lowercase() {
            decompose_compatible(lower, |d| {
                if is_combining_mark(d) {
                    return;
                }
                for l in d.to_lowercase() {
                    match l {
                        'œ' => {
                            self.push_folded('o');
                            self.push_folded('e');
                        }
                        'æ' => {
                            self.push_folded('a');
                            self.push_folded('e');
                        }
                        'ß' => self.push_folded('s'),
                        'ø' => self.push_folded('o'),
                        'đ' | 'ð' => self.push_folded('d'),
                        'ł' => self.push_folded('l'),
                        'þ' => {
                            self.push_folded('t');
                            self.push_folded('h');
                        }
                        'ı' => self.push_folded('i'),
                        _ if l.is_alphanumeric() => self.push_folded(l),
                        _ => {}
                    }
                }
            });
        }
    }

    fn head(&self) -> &[u8] {
        &self.head[..self.len.min(self.head.len())]
    }

    fn finish(&self) -> u64 {
        mix64(self.hash)
    }
}

#[inline]
fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        c.is_alphanumeric()
    }
}

#[inline]
fn is_mark(c: char) -> bool {
    !c.is_ascii() && is_combining_mark(c)
}

#[inline]
fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{02BC}' | '\u{2018}')
}

/// Scripts written without spaces: each character is a word of its own.
#[inline]
fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0E7F        // Thai
        | 0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF      // CJK Extension A
        | 0x4E00..=0x9FFF      // CJK Unified Ideographs
        | 0xAC00..=0xD7AF      // Hangul syllables
        | 0xF900..=0xFAFF      // CJK compatibility ideographs
        | 0x20000..=0x2FFFF) // CJK Extensions B…
}

#[inline]
fn is_handle_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn starts_with_ignore_ascii_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Whether the text at `rest` is a link (`http://`, `https://`, `www.`).
fn is_link(rest: &str) -> bool {
    starts_with_ignore_ascii_case(rest, "http://")
        || starts_with_ignore_ascii_case(rest, "https://")
        || starts_with_ignore_ascii_case(rest, "www.")
}

/// Reads `text` into token hashes appended to `out`, at most `max_words`
/// words; returns the number of words read (handles, links and retweet
/// markers are tokens but not words).
fn scan(text: &str, max_words: usize, out: &mut Vec<(u64, TokKind)>) -> usize {
    let bytes = text.as_bytes();
    let mut words = 0usize;
    let mut i = 0usize;
    // The last character continues a word: an '@' or '#' there is not a sigil.
    let mut prev_word = false;
    // A retweet or attribution marker was just read: the next handle is the
    // author quoted, not part of the text.
    let mut drop_next_handle = false;
    while i < bytes.len() && words < max_words {
        let rest = &text[i..];
        let Some(c) = rest.chars().next() else { break };
        let clen = c.len_utf8();
        if !prev_word && matches!(c, 'h' | 'H' | 'w' | 'W') && is_link(rest) {
            i += rest.find(char::is_whitespace).unwrap_or(rest.len());
            drop_next_handle = false;
            continue;
        }
        if c == '@' && !prev_word {
            let body = rest[1..].bytes().take_while(|&b| is_handle_byte(b)).count();
            if body > 0 {
                let mut end = 1 + body;
                // Fediverse handles: @user@instance.example.
                if rest[end..].starts_with('@') {
                    let domain = rest[end + 1..]
                        .bytes()
                        .take_while(|&b| is_handle_byte(b) || b == b'.' || b == b'-')
                        .count();
                    end += 1 + domain;
                }
                if !drop_next_handle {
                    let mut t = TokenBuilder::new();
                    t.push_folded('@');
                    for b in rest[1..end].bytes() {
                        t.push_folded(char::from(b.to_ascii_lowercase()));
                    }
                    out.push((t.finish(), TokKind::Handle));
                }
                drop_next_handle = false;
                i += end;
                continue;
            }
        }
        if is_unspaced_script(c) {
            let mut t = TokenBuilder::new();
            t.push(c);
            out.push((t.finish(), TokKind::Word));
            words += 1;
            i += clen;
            prev_word = false;
            drop_next_handle = false;
            continue;
        }
        if is_word_char(c) {
            let mut t = TokenBuilder::new();
            t.push(c);
            let mut j = i + clen;
            while let Some(d) = text[j..].chars().next() {
                if is_unspaced_script(d) {
                    break;
                }
                if is_word_char(d) || is_mark(d) {
                    t.push(d);
                    j += d.len_utf8();
                } else if is_apostrophe(d) {
                    // don't → dont, l'avion → lavion: people drop apostrophes.
                    let after = j + d.len_utf8();
                    match text[after..].chars().next() {
                        Some(e) if is_word_char(e) && !is_unspaced_script(e) => j = after,
                        _ => break,
                    }
                } else {
                    break;
                }
            }
            i = j;
            prev_word = true;
            if t.len == 0 {
                continue;
            }
            let head = t.head();
            if t.len <= 3 && matches!(head, b"rt" | b"mt" | b"via" | b"cc") {
                // "RT @user:", "MT @user", "via @user", "cc @user": attribution.
                // "via" and "cc" stay words unless a handle follows.
                let next_is_handle = text[i..].trim_start().starts_with('@');
                if head == b"rt" || head == b"mt" || next_is_handle {
                    drop_next_handle = next_is_handle;
                    continue;
                }
            }
            drop_next_handle = false;
            out.push((t.finish(), TokKind::Word));
            words += 1;
            continue;
        }
        // '#' before a word: the hashtag is its body. Anything else separates.
        prev_word = is_mark(c) && prev_word;
        i += clen;
    }
    words
}

/// A mention's shingles: the distinct 16-bit values (sorted), the first
/// [`LEAD_KEPT`] distinct values of the body in reading order (of the title
/// when the body has no word), and the word count.
pub(crate) struct Shingles {
    values: Vec<u16>,
    lead: Vec<u16>,
    words: usize,
}

/// The shingles of a mention's title and text.
pub(crate) fn shingle_values(title: Option<&str>, text: &str) -> Shingles {
    let mut toks = Vec::with_capacity(text.len() / 5 + 8);
    let mut words = 0;
    if let Some(title) = title {
        words += scan(title, MAX_WORDS, &mut toks);
        toks.push((0, TokKind::Break));
    }
    words += scan(text, MAX_WORDS.saturating_sub(words), &mut toks);
    let mut values = Vec::with_capacity(toks.len());
    let mut lead = Vec::with_capacity(LEAD_KEPT);
    for segment in toks.split(|t| t.1 == TokKind::Break) {
        if segment.is_empty() {
            continue;
        }
        // The last segment with tokens is the body (the title without one).
        lead.clear();
        // A segment shorter than a shingle (a two-word title) is one shingle.
        let k = SHINGLE_WORDS.min(segment.len());
        for w in segment.windows(k) {
            let mut h = 0x9e37_79b9_7f4a_7c15u64;
            for t in w {
                h = (h.rotate_left(27) ^ t.0).wrapping_mul(0x2545_f491_4f6c_dd1d);
            }
            let v = (mix64(h) >> 48) as u16;
            if lead.len() < LEAD_KEPT && !lead.contains(&v) {
                lead.push(v);
            }
            values.push(v);
        }
    }
    values.sort_unstable();
    values.dedup();
    Shingles { values, lead, words }
}

// ---------------------------------------------------------------------------
// Signature
// ---------------------------------------------------------------------------

/// A compact signature of a text for near-duplicate search: the text's word
/// 3-shingles (hashed to 16 bits) when it has at most 32 of them, else a
/// 64-function MinHash sketch keeping one byte per function; and the first
/// 16 shingles of the body. Fixed size: [`SIGNATURE_BYTES`] bytes
/// ([`Signature::to_bytes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Distinct shingles of the text (saturating).
    shingles: u16,
    /// `shingles <= EXACT_MAX`: the shingle values, ascending, little-endian
    /// `u16`s, zero after the last; else the MinHash bytes.
    payload: [u8; PAYLOAD],
    /// The body's first distinct shingle values in reading order, the last
    /// repeated to fill the array when the body has fewer.
    lead: [u16; LEAD_KEPT],
}

/// Why stored signature bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature is {0} bytes; expected {SIGNATURE_BYTES}")]
    Length(usize),
    #[error("signature version {0} is not {SIGNATURE_VERSION}: recompute it from the text")]
    Version(u8),
    #[error("signature is corrupt: {0}")]
    Corrupt(&'static str),
}

impl Signature {
    /// Number of distinct shingles of the text (saturating at `u16::MAX`).
    pub fn shingle_count(&self) -> u16 {
        self.shingles
    }

    fn is_exact(&self) -> bool {
        usize::from(self.shingles) <= EXACT_MAX
    }

    fn exact_values(&self) -> impl Iterator<Item = u16> + '_ {
        self.payload
            .chunks_exact(2)
            .take(usize::from(self.shingles))
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
    }

    /// The MinHash bytes, computed for exact signatures (first `rows` only).
    fn minhash(&self, rows: usize) -> [u8; HASHES] {
        if self.is_exact() {
            let mut values = [0u16; EXACT_MAX];
            for (v, x) in values.iter_mut().zip(self.exact_values()) {
                *v = x;
            }
            minhash_bytes(&values[..usize::from(self.shingles)], rows)
        } else {
            self.payload
        }
    }

    /// The body's first distinct shingles kept (up to 16), in reading order.
    fn lead_values(&self) -> &[u16] {
        let last = self.lead[LEAD_KEPT - 1];
        let n = self.lead.iter().position(|&v| v == last).map_or(LEAD_KEPT, |p| p + 1);
        &self.lead[..n]
    }

    /// Whether the text has the shingle `v` (for a MinHash signature: whether
    /// its first 16 body shingles have it, the only values kept).
    fn has(&self, v: u16) -> bool {
        if self.is_exact() {
            self.exact_values().any(|x| x == v)
        } else {
            self.lead.contains(&v)
        }
    }

    /// `[version, shingle count (u16 LE), payload, lead (u16 LE each)]`.
    pub fn to_bytes(&self) -> [u8; SIGNATURE_BYTES] {
        let mut out = [0u8; SIGNATURE_BYTES];
        out[0] = SIGNATURE_VERSION;
        out[1..3].copy_from_slice(&self.shingles.to_le_bytes());
        out[3..3 + PAYLOAD].copy_from_slice(&self.payload);
        for (chunk, v) in out[3 + PAYLOAD..].chunks_exact_mut(2).zip(self.lead) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Reads bytes written by [`Signature::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Signature, SignatureError> {
        if bytes.len() != SIGNATURE_BYTES {
            return Err(SignatureError::Length(bytes.len()));
        }
        if bytes[0] != SIGNATURE_VERSION {
            return Err(SignatureError::Version(bytes[0]));
        }
        let shingles = u16::from_le_bytes([bytes[1], bytes[2]]);
        if shingles == 0 {
            return Err(SignatureError::Corrupt("no shingles"));
        }
        let mut payload = [0u8; PAYLOAD];
        payload.copy_from_slice(&bytes[3..3 + PAYLOAD]);
        let mut lead = [0u16; LEAD_KEPT];
        for (v, c) in lead.iter_mut().zip(bytes[3 + PAYLOAD..].chunks_exact(2)) {
            *v = u16::from_le_bytes([c[0], c[1]]);
        }
        let sig = Signature { shingles, payload, lead };
        // Distinct values, then the last one repeated.
        let distinct = sig.lead_values().len();
        let last = sig.lead[LEAD_KEPT - 1];
        let values = &sig.lead[..distinct];
        if values.iter().enumerate().any(|(n, v)| values[..n].contains(v))
            || sig.lead[distinct..].iter().any(|&v| v != last)
        {
            return Err(SignatureError::Corrupt("lead values repeated"));
        }
        if distinct > usize::from(shingles) {
            return Err(SignatureError::Corrupt("lead longer than the text"));
        }
        if sig.is_exact() {
            let n = usize::from(shingles);
            let mut prev: Option<u16> = None;
            for x in sig.exact_values() {
                if prev.is_some_and(|p| p >= x) {
                    return Err(SignatureError::Corrupt("shingles not in ascending order"));
                }
                prev = Some(x);
            }
            if payload[2 * n..].iter().any(|&b| b != 0) {
                return Err(SignatureError::Corrupt("bytes after the last shingle"));
            }
            if !sig.lead_values().iter().all(|&v| sig.has(v)) {
                return Err(SignatureError::Corrupt("lead not among the shingles"));
            }
        }
        Ok(sig)
    }
}

/// The signature of a mention's title and text, or `None` when there is too
/// little text to judge (fewer than [`MIN_WORDS`] words once handles, links,
/// retweet markers, hashtags' `#` and punctuation are set aside).
///
/// Text is normalised first: case, accents and ligatures folded, repeated
/// letters collapsed (`sooo` = `so`), apostrophes inside words dropped, links
/// and `RT @user:` / `via @user` attributions removed. Handles stay as tokens
/// (the same words sent to two brands are two stories when they are short).
/// The title and the body are shingled separately. At most [`MAX_WORDS`]
/// words are read.
pub fn signature(title: Option<&str>, text: &str) -> Option<Signature> {
    let Shingles { values, lead: first, words } = shingle_values(title, text);
    if words < MIN_WORDS || values.is_empty() {
        return None;
    }
    // Not empty: the segment that gave a value gave the lead its first.
    let mut lead = [0u16; LEAD_KEPT];
    for (n, v) in lead.iter_mut().enumerate() {
        *v = first[n.min(first.len() - 1)];
    }
    let shingles = u16::try_from(values.len()).unwrap_or(u16::MAX);
    let mut payload = [0u8; PAYLOAD];
    if values.len() <= EXACT_MAX {
        for (chunk, v) in payload.chunks_exact_mut(2).zip(&values) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
    } else {
        payload = minhash_bytes(&values, HASHES);
    }
    Some(Signature { shingles, payload, lead })
}

/// Share of one text's lead (the first 8 shingles of its body) found in the
/// other text, the larger of the two directions, in [0, 1]: looked for among
/// all the other text's shingles when it has at most 32, else among the first
/// 16 of its body (a MinHash keeps no other values).
pub fn lead_overlap(a: &Signature, b: &Signature) -> f32 {
    let share = |x: &Signature, y: &Signature| {
        let values = x.lead_values();
        let lead = &values[..values.len().min(LEAD)];
        lead.iter().filter(|&&v| y.has(v)).count() as f32 / lead.len() as f32
    };
    share(a, b).max(share(b, a))
}

/// Estimated Jaccard similarity of the two texts' shingle sets, in [0, 1]:
/// exact when both have at most 32 shingles, else from the MinHash bytes
/// (standard error about 0.06 near 0.5).
pub fn similarity(a: &Signature, b: &Signature) -> f32 {
    if a.is_exact() && b.is_exact() {
        let (mut x, mut y) = (a.exact_values().peekable(), b.exact_values().peekable());
        let mut common = 0u32;
        while let (Some(&p), Some(&q)) = (x.peek(), y.peek()) {
            match p.cmp(&q) {
                std::cmp::Ordering::Less => {
                    x.next();
                }
                std::cmp::Ordering::Greater => {
                    y.next();
                }
                std::cmp::Ordering::Equal => {
                    common += 1;
                    x.next();
                    y.next();
                }
            }
        }
        let union = u32::from(a.shingles) + u32::from(b.shingles) - common;
        return if union == 0 {
            0.0
        } else {
            common as f32 / union as f32
        };
    }
    let (ma, mb) = (a.minhash(HASHES), b.minhash(HASHES));
    let equal = ma.iter().zip(&mb).filter(|(p, q)| p == q).count();
    // One byte per function: unequal minima agree by chance 1 time in 256.
    const CHANCE: f32 = 1.0 / 256.0;
    let p = equal as f32 / HASHES as f32;
    ((p - CHANCE) / (1.0 - CHANCE)).clamp(0.0, 1.0)
}

// ---------------------------------------------------------------------------
// Stories
// ---------------------------------------------------------------------------

/// When two signatures are one story.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryConfig {
    /// Similarity at or above which two mentions are one story.
    pub threshold: f32,
    /// Lower similarity accepted when the texts share many shingles…
    pub long_copy_threshold: f32,
    /// …at least this many (estimated from the similarity and the sizes).
    pub long_copy_min_shared: f32,
    /// Share of one text's lead the other must have ([`lead_overlap`]), for
    /// both rules; 0 to compare whole texts only.
    pub min_lead_overlap: f32,
}

impl Default for StoryConfig {
    fn default() -> Self {
        StoryConfig {
            threshold: DEFAULT_THRESHOLD,
            long_copy_threshold: DEFAULT_LONG_COPY_THRESHOLD,
            long_copy_min_shared: DEFAULT_LONG_COPY_MIN_SHARED,
            min_lead_overlap: DEFAULT_MIN_LEAD_OVERLAP,
        }
    }
}

impl StoryConfig {
    /// The similarity of `a` and `b` when they are one story, else `None`.
    pub fn same_story(&self, a: &Signature, b: &Signature) -> Option<f32> {
        self.similar(a, b).filter(|_| self.leads_meet(a, b))
    }

    /// The rule on whole texts (their leads not compared): the similarity
    /// when it is above the threshold, or the long-copy one with enough shared.
    fn similar(&self, a: &Signature, b: &Signature) -> Option<f32> {
        let j = similarity(a, b);
        if j >= self.threshold {
            return Some(j);
        }
        if j >= self.long_copy_threshold {
            // |A ∩ B| = J (|A| + |B|) / (1 + J).
            let shared = j * (f32::from(a.shingles) + f32::from(b.shingles)) / (1.0 + j);
            if shared >= self.long_copy_min_shared {
                return Some(j);
            }
        }
        None
    }

    /// Whether one text begins with what the other has: a shared end with
    /// different beginnings is a boilerplate, not a copy.
    fn leads_meet(&self, a: &Signature, b: &Signature) -> bool {
        self.min_lead_overlap <= 0.0 || lead_overlap(a, b) >= self.min_lead_overlap
    }
}

/// Whether two signatures are one story under [`StoryConfig::default`].
pub fn same_story(a: &Signature, b: &Signature) -> bool {
    StoryConfig::default().same_story(a, b).is_some()
}

/// In-memory LSH index of recent signatures, bounded: beyond `capacity`
/// mentions the oldest is evicted.
///
/// Each mention is filed under 16 band keys (3 MinHash bytes each); a band
/// table keeps the latest mention per cell, so a lookup reads at most 16
/// candidates whatever the size of the index.
pub struct StoryIndex {
    config: StoryConfig,
    capacity: usize,
    ids: Vec<i64>,
    stories: Vec<i64>,
    shingles: Vec<u16>,
    payloads: Vec<[u8; PAYLOAD]>,
    leads: Vec<[u16; LEAD_KEPT]>,
    /// The oldest slot once the index is full (the next to be replaced).
    oldest: usize,
    /// `BANDS` tables of `capacity` cells: slot + 1, or 0 when empty.
    cells: Vec<u32>,
}

impl std::fmt::Debug for StoryIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoryIndex")
            .field("capacity", &self.capacity)
            .field("len", &self.ids.len())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Largest capacity (slots are `u32`, and 0 marks an empty cell).
const MAX_CAPACITY: usize = (u32::MAX - 1) as usize;

impl StoryIndex {
    /// An index of at most `capacity` mentions, with the default rule.
    pub fn new(capacity: usize) -> Self {
        Self::with_config(capacity, StoryConfig::default())
    }

    /// An index of at most `capacity` mentions deciding with `config`.
    pub fn with_config(capacity: usize, config: StoryConfig) -> Self {
        let capacity = capacity.min(MAX_CAPACITY);
        StoryIndex {
            config,
            capacity,
            ids: Vec::new(),
            stories: Vec::new(),
            shingles: Vec::new(),
            payloads: Vec::new(),
            leads: Vec::new(),
            oldest: 0,
            // Zeroed memory: pages are only committed as cells are written.
            cells: vec![0; BANDS * capacity],
        }
    }

    /// Number of mentions indexed (at most the capacity).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes allocated on the heap: the band tables (64 bytes per unit of
    /// capacity, allocated zeroed up front, so the system commits them as they
    /// are written) plus 114 bytes per indexed mention (grown as mentions come).
    pub fn heap_bytes(&self) -> usize {
        self.cells.capacity() * size_of::<u32>()
            + self.ids.capacity() * size_of::<i64>()
            + self.stories.capacity() * size_of::<i64>()
            + self.shingles.capacity() * size_of::<u16>()
            + self.payloads.capacity() * PAYLOAD
            + self.leads.capacity() * 2 * LEAD_KEPT
    }

    /// The signature held in `slot`, its lead left out (zeros) unless
    /// `with_lead`: [`similarity`] does not read it, and it is another memory
    /// read, needed only for the candidates similar enough.
    fn slot_signature(&self, slot: usize, with_lead: bool) -> Signature {
        Signature {
            shingles: self.shingles[slot],
            payload: self.payloads[slot],
            lead: if with_lead { self.leads[slot] } else { [0; LEAD_KEPT] },
        }
    }

    /// The cell of each band of a signature's MinHash bytes.
    fn band_cells(&self, minhash: &[u8; HASHES]) -> [usize; BANDS] {
        let mut cells = [0usize; BANDS];
        for (band, cell) in cells.iter_mut().enumerate() {
            let mut key = band as u64;
            for &b in &minhash[band * ROWS..(band + 1) * ROWS] {
                key = (key << 8) | u64::from(b);
            }
            // Map the hash onto 0..capacity without a division.
            let h = mix64(key) >> 32;
            *cell = band * self.capacity + ((h * self.capacity as u64) >> 32) as usize;
        }
        cells
    }

    /// Finds the story of a new mention: the story id of the most similar
    /// indexed mention that is one story with it ([`StoryConfig::same_story`]),
    /// else `id` itself starts a new story. Inserts it (evicting the oldest
    /// mention when full). Returns the story id.
    ///
    /// Cost: 16 table reads, at most 16 similarity checks, 16 writes.
    pub fn assign(&mut self, id: i64, sig: &Signature) -> i64 {
        if self.capacity == 0 {
            return id;
        }
        let cells = self.band_cells(&sig.minhash(BANDS * ROWS));
        // Read every cell first, then every candidate: independent loads, so
        // their cache misses overlap instead of following one another.
        let mut found = [0u32; BANDS];
        for (f, &cell) in found.iter_mut().zip(&cells) {
            *f = self.cells[cell];
        }
        let mut candidates = [0usize; BANDS];
        let mut count = 0;
        for marker in found {
            if let Some(slot) = (marker as usize).checked_sub(1)
                && !candidates[..count].contains(&slot)
            {
                candidates[count] = slot;
                count += 1;
            }
        }
        let signatures: [Option<Signature>; BANDS] =
            std::array::from_fn(|n| (n < count).then(|| self.slot_signature(candidates[n], false)));
        let mut best: Option<(f32, usize)> = None;
        for (slot, candidate) in candidates.iter().zip(&signatures) {
            if let Some(candidate) = candidate
                && let Some(j) = self.config.similar(sig, candidate)
                && best.is_none_or(|(b, _)| j > b)
                && self.config.leads_meet(sig, &self.slot_signature(*slot, true))
            {
                best = Some((j, *slot));
            }
        }
        let story = best.map_or(id, |(_, slot)| self.stories[slot]);
        // A cell held by a member of the same story that is younger than half
        // the window keeps it: the story's first members carry its common
        // text, and a later variant (a different source name at the end of a
        // headline) would shadow them for the copies that resemble them more.
        // Older holders are replaced, so a long-lived story outlives eviction.
        let mut keep = [false; BANDS];
        if best.is_some() {
            for (k, marker) in keep.iter_mut().zip(found) {
                if let Some(slot) = (marker as usize).checked_sub(1) {
                    *k = self.stories[slot] == story && self.age(slot) < self.capacity / 2;
                }
            }
        }
        self.insert(id, story, sig, &cells, &keep);
        story
    }

    /// Puts back a mention whose story is already known (warming an index
    /// from stored mentions, oldest first): no search, so a stored link is
    /// never re-decided.
    pub fn restore(&mut self, id: i64, story: i64, sig: &Signature) {
        if self.capacity == 0 {
            return;
        }
        let cells = self.band_cells(&sig.minhash(BANDS * ROWS));
        self.insert(id, story, sig, &cells, &[false; BANDS]);
    }

    /// Gives the members of story `from` the story `into` (two stories found
    /// to be one). Cost: one pass over the index.
    pub fn rename_story(&mut self, from: i64, into: i64) {
        for story in &mut self.stories {
            if *story == from {
                *story = into;
            }
        }
    }

    /// Insertions since `slot` was written (0 for the newest).
    fn age(&self, slot: usize) -> usize {
        let next = if self.ids.len() < self.capacity {
            self.ids.len()
        } else {
            self.oldest
        };
        (next + self.capacity - 1 - slot) % self.capacity
    }

    fn insert(
        &mut self,
        id: i64,
        story: i64,
        sig: &Signature,
        cells: &[usize; BANDS],
        keep: &[bool; BANDS],
    ) {
        let slot = if self.ids.len() < self.capacity {
            let len = self.ids.len();
            if len == self.ids.capacity() {
                // Grow by doubling, but never past the capacity.
                let extra = len.max(64).min(self.capacity - len);
                self.ids.reserve_exact(extra);
                self.stories.reserve_exact(extra);
                self.shingles.reserve_exact(extra);
                self.payloads.reserve_exact(extra);
                self.leads.reserve_exact(extra);
            }
            self.ids.push(id);
            self.stories.push(story);
            self.shingles.push(sig.shingles);
            self.payloads.push(sig.payload);
            self.leads.push(sig.lead);
            self.ids.len() - 1
        } else {
            let slot = self.oldest;
            self.oldest = (self.oldest + 1) % self.capacity;
            let old = self.band_cells(&self.slot_signature(slot, false).minhash(BANDS * ROWS));
            for cell in old {
                if self.cells[cell] as usize == slot + 1 {
                    self.cells[cell] = 0;
                }
            }
            self.ids[slot] = id;
            self.stories[slot] = story;
            self.shingles[slot] = sig.shingles;
            self.payloads[slot] = sig.payload;
            self.leads[slot] = sig.lead;
            slot
        };
        // slot < capacity <= u32::MAX - 1, so slot + 1 fits.
        let marker = (slot + 1) as u32;
        for (&cell, &keep) in cells.iter().zip(keep) {
            // A kept holder may have been evicted just now (cell cleared).
            if !keep || self.cells[cell] == 0 {
                self.cells[cell] = marker;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "the delivery driver left my parcel in the rain and it was soaked";

    fn sig(text: &str) -> Signature {
        match signature(None, text) {
            Some(s) => s,
            None => panic!("no signature for {text:?}"),
        }
    }

    #[test]
    fn restored_mentions_keep_their_story() {
        let mut index = StoryIndex::new(100);
        // Stored: 7 is a copy of 3, whose original fell out of the window.
        index.restore(7, 3, &sig(TEXT));
        assert_eq!(index.len(), 1);
        // A new copy joins the stored story, not mention 7 as a story of its own.
        assert_eq!(index.assign(9, &sig(&format!("{TEXT} again"))), 3);
    }

    #[test]
    fn too_little_text_has_no_signature() {
        for text in [
            "",
            "thanks @united!",
            "@united thank you so much!!",
            "RT @alice: @bob @carol https://t.co/xyz #",
            "👍👍👍 !!! ??? ...",
            "@a @b @c @d @e @f @g",
        ] {
            assert_eq!(signature(None, text), None, "{text:?}");
        }
        assert!(signature(None, "@united thank you so much guys").is_some());
        // Title words count.
        assert!(signature(Some("Strike at SNCF"), "trains cancelled").is_some());
    }

    #[test]
    fn normalisation_folds_case_accents_elongations_apostrophes() {
        assert_eq!(
            sig("Ce service est vraiment NUL, je ne recommande pas"),
            sig("ce service est vraiment nuuuul je ne recommande pas !!!")
        );
        assert_eq!(
            sig("Le réseau était coupé à Montréal hier soir"),
            sig("LE RESEAU ETAIT COUPE A MONTREAL HIER SOIR")
        );
        assert_eq!(
            sig("I don't think they'll ever refund me"),
            sig("I dont think theyll ever refund me")
        );
        assert_eq!(
            sig("I don’t think they’ll ever refund me"),
            sig("I don't think they'll ever refund me")
        );
        assert_eq!(
            sig("œuvre straße ﬁnal café crème brûlée"),
            sig("oeuvre strase final cafe creme brulee")
        );
        assert_ne!(
            sig(TEXT),
            sig("the delivery driver left my parcel in the sun and it was soaked")
        );
    }

    #[test]
    fn retweet_markers_links_and_hashtag_signs_are_not_text() {
        let base = sig(TEXT);
        assert_eq!(sig(&format!("RT @alice: {TEXT}")), base);
        assert_eq!(sig(&format!("rt @alice {TEXT}")), base);
        assert_eq!(sig(&format!("MT @alice: {TEXT}")), base);
        assert_eq!(sig(&format!("{TEXT} via @alice")), base);
        assert_eq!(
            sig(&format!(
                "{TEXT} https://t.co/AbC123?x=1 www.example.com/path"
            )),
            base
        );
        assert_eq!(
            sig(&format!("{TEXT} http://t.co/one")),
            sig(&format!("{TEXT} HTTPS://T.CO/two"))
        );
        assert_eq!(
            sig("#delivery driver left my #parcel in the rain"),
            sig("delivery driver left my parcel in the rain")
        );
        // "via" and "cc" are words when no handle follows.
        assert_ne!(
            sig("we flew via Paris to reach Lyon on time"),
            sig("we flew Paris to reach Lyon on time")
        );
    }

    #[test]
    fn handles_are_tokens_but_not_words() {
        // The same short text to two brands is two texts…
        assert_ne!(
            sig("@united my flight is delayed again"),
            sig("@delta my flight is delayed again")
        );
        // …the same handle in two spellings is one.
        assert_eq!(
            sig("@United my flight is delayed again"),
            sig("@united my flight is delayed again")
        );
        // An email address is words, not a handle.
        assert_eq!(
            sig("please write to contact@sncf.fr"),
            sig("please write to contact sncf fr")
        );
        // Fediverse handles are one token.
        assert_eq!(
            sig("@Alice@Mastodon.social the train was late again today"),
            sig("@alice@mastodon.social the train was late again today"),
        );
        assert_ne!(
            sig("@alice@mastodon.social the train was late again today"),
            sig("@alice@example.org the train was late again today"),
        );
        assert_ne!(
            sig("@alice@mastodon.social the train was late again today"),
            sig("@bob@mastodon.social the train was late again today"),
        );
    }

    #[test]
    fn unspaced_scripts_are_read_character_by_character() {
        let a = sig("東京駅で新幹線が止まっています");
        let b = sig("東京駅で新幹線が止まっています！");
        let c = sig("大阪駅で特急列車が遅れています");
        assert_eq!(a, b);
        assert!(similarity(&a, &c) < 0.5);
    }

    #[test]
    fn title_and_body_are_shingled_apart() {
        let with_title = sig_title("Parcel soaked", TEXT);
        assert_ne!(with_title, sig(TEXT));
        assert!(similarity(&with_title, &sig(TEXT)) > 0.7);
        // A title repeated at the start of the body adds nothing new.
        assert_eq!(sig_title(TEXT, TEXT), sig(TEXT));
    }

    fn sig_title(title: &str, text: &str) -> Signature {
        match signature(Some(title), text) {
            Some(s) => s,
            None => panic!("no signature"),
        }
    }

    #[test]
    fn long_texts_use_minhash_and_compare_with_short_ones() {
        let long: String = (0..200).map(|i| format!("word{i} ")).collect();
        let a = sig(&long);
        assert!(!a.is_exact());
        // 198 shingles; a few may share a 16-bit value.
        assert!(
            (190..=198).contains(&a.shingle_count()),
            "{}",
            a.shingle_count()
        );
        assert_eq!(similarity(&a, &a), 1.0);
        // The first 30 words: 28 of the 198 shingles.
        let head: String = (0..30).map(|i| format!("word{i} ")).collect();
        let b = sig(&head);
        assert!(b.is_exact());
        let j = similarity(&a, &b);
        assert!((j - 28.0 / 198.0).abs() < 0.15, "{j}");
        assert_eq!(similarity(&a, &b), similarity(&b, &a));
    }

    #[test]
    fn very_long_texts_are_read_up_to_max_words() {
        let huge = "lorem ipsum dolor sit amet consectetur ".repeat(10_000);
        let capped = signature(None, &huge);
        assert!(capped.is_some());
        assert_eq!(shingle_values(None, &huge).words, MAX_WORDS);
    }

    /// Stored signatures must stay comparable: a change to the normalisation,
    /// the shingles, the hashing or the layout changes these bytes, and must
    /// come with a new [`SIGNATURE_VERSION`] (and new bytes here). Version 2
    /// added the body's first 16 shingles after the payload.
    #[test]
    fn signature_bytes_are_stable() {
        fn hex(s: &Signature) -> String {
            s.to_bytes().iter().map(|b| format!("{b:02x}")).collect()
        }
        let short = sig(
            "RT @alice: Le TGV Paris-Lyon a encore 2h de retard, aucune info à bord… https://t.co/x",
        );
        assert_eq!(
            hex(&short),
            "020b000105201a4e2e273f5841136e8c87d2ad3fdb44e777f50000000000000000000000000000000000000000\
             00000000000000000000000000000000000000000000273f8c873fdb58414e2e77f5d2ad201a44e70105136e13\
             6e136e136e136e136e"
        );
        let long: String = (0..60).map(|i| format!("mot{i} été ")).collect();
        assert_eq!(
            hex(&sig(&long)),
            "027600d84b708797d23db2b553f61cb4db4bd5aca784574b4511500f50caa117b1ae62a4eec66e0cb4ab1ce645\
             7c6510778b152f76d0dbd1d8d494ddfa84fb833d3fa2320426ad74d1177646824feaa0ad8ddd1d6be5f8321dc1\
             25837d4b867173502f"
        );
    }

    #[test]
    fn minhash_estimates_exact_jaccard() {
        // Two 100-word texts sharing their first 60 words.
        let a: String = (0..100).map(|i| format!("a{i} ")).collect();
        let b: String = (0..60)
            .map(|i| format!("a{i} "))
            .chain((0..40).map(|i| format!("b{i} ")))
            .collect();
        let exact = 58.0 / (98.0 + 98.0 - 58.0);
        let j = similarity(&sig(&a), &sig(&b));
        assert!((j - exact).abs() < 0.15, "{j} vs {exact}");
    }
}
