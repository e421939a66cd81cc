//! Model file format: one envelope for every model of this crate.
//!
//! ```text
//! magic      8 bytes  "VIGIESNT"
//! format     u16 LE   FORMAT_VERSION
//! kind       u8       1 fast sentiment, 2 linear classifier, 3 encoder head
//! reserved   u8       0
//! length     u64 LE   payload length
//! payload    …        kind-specific, little-endian
//! checksum   8 bytes  first 8 bytes of SHA-256 over everything before
//! ```
//! Readers check the magic, the version, the kind, the length and the
//! checksum before decoding, and every read is bounds-checked: a truncated,
//! corrupt or foreign file is a [`ModelError`], never a panic.

use sha2::{Digest, Sha256};

use crate::ModelError;
use crate::features::{CharScope, FeatureOptions, LangMode};
use crate::linear::Quantised;

pub(crate) const MAGIC: &[u8; 8] = b"VIGIESNT";
pub(crate) const FORMAT_VERSION: u16 = 1;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Fast = 1,
    Classifier = 2,
    Head = 3,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Fast => "fast sentiment model",
            Kind::Classifier => "linear classifier",
            Kind::Head => "encoder head",
        }
    }
    fn from_u8(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Fast),
            2 => Some(Kind::Classifier),
            3 => Some(Kind::Head),
            _ => None,
        }
    }
}

pub(crate) fn seal(kind: Kind, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 28);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(kind as u8);
    out.push(0);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum[..8]);
    out
}

/// Check the envelope and return the payload.
pub(crate) fn open(bytes: &[u8], expected: Kind) -> Result<&[u8], ModelError> {
    if bytes.len() < 20 || &bytes[..8] != MAGIC {
        return Err(ModelError::NotAModel);
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != FORMAT_VERSION {
        return Err(ModelError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let kind = Kind::from_u8(bytes[10]);
    if kind != Some(expected) {
        return Err(ModelError::WrongKind {
            expected: expected.name(),
            found: kind.map_or("unknown", Kind::name),
        });
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[12..20]);
    let len = u64::from_le_bytes(len);
    let end = 20u64.checked_add(len).ok_or(ModelError::Truncated)?;
    if (bytes.len() as u64) != end + 8 {
        return Err(ModelError::Truncated);
    }
    let end = end as usize;
    let sum = Sha256::digest(&bytes[..end]);
    if sum[..8] != bytes[end..end + 8] {
        return Err(ModelError::ChecksumMismatch);
    }
    Ok(&bytes[20..end])
}

#[derive(Default)]
pub(crate) struct Writer(pub Vec<u8>);

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f32s(&mut self, v: &[f32]) {
        self.u32(v.len() as u32);
        for x in v {
            self.f32(*x);
        }
    }
    pub fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    pub fn features(&mut self, f: &FeatureOptions) {
        self.u16(crate::features::FEATURES_VERSION);
        self.u8(f.bits);
        self.u8(f.char_min);
        self.u8(f.char_max);
        self.u8(match f.char_scope {
            CharScope::Word => 0,
            CharScope::Text => 1,
        });
        // bit 0: bigrams, bit 1: trigrams
        self.u8(u8::from(f.word_bigrams) | (u8::from(f.word_trigrams) << 1));
        // bit 0: negation marking, bits 1..: idiom flags
        self.u8(u8::from(f.negation_marking) | (f.idioms << 1));
        self.u8(match f.lang {
            LangMode::Shared => 0,
            LangMode::Separate => 1,
            LangMode::Both => 2,
        });
        self.u8(u8::from(f.sqrt_norm));
    }
    pub fn quantised(&mut self, q: &Quantised) {
        self.u32(q.k as u32);
        self.u8(q.bits);
        self.f32s(&q.scale);
        self.f32s(&q.dense);
        self.f32s(&q.bias);
        self.u32(q.q.len() as u32);
        self.0.extend(q.q.iter().map(|x| *x as u8));
    }
}

pub(crate) struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self.pos.checked_add(n).ok_or(ModelError::Truncated)?;
        let s = self.b.get(self.pos..end).ok_or(ModelError::Truncated)?;
        self.pos = end;
        Ok(s)
    }
    pub fn u8(&mut self) -> Result<u8, ModelError> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, ModelError> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    pub fn u32(&mut self) -> Result<u32, ModelError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    pub fn f32(&mut self) -> Result<f32, ModelError> {
        let s = self.take(4)?;
        let v = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        if v.is_finite() {
            Ok(v)
        } else {
            Err(ModelError::Invalid(
                "a weight is not a finite number".into(),
            ))
        }
    }
    pub fn f32s(&mut self, expected: usize) -> Result<Vec<f32>, ModelError> {
        let n = self.u32()? as usize;
        if n != expected {
            return Err(ModelError::Invalid(format!(
                "{n} values where {expected} were expected"
            )));
        }
        (0..n).map(|_| self.f32()).collect()
    }
    pub fn str(&mut self) -> Result<String, ModelError> {
        let n = self.u32()? as usize;
        let s = self.take(n)?;
        String::from_utf8(s.to_vec()).map_err(|_| ModelError::Invalid("a name is not UTF-8".into()))
    }
    pub fn features(&mut self) -> Result<FeatureOptions, ModelError> {
        let v = self.u16()?;
        if v != crate::features::FEATURES_VERSION {
            return Err(ModelError::FeaturesVersion {
                found: v,
                supported: crate::features::FEATURES_VERSION,
            });
        }
        let bits = self.u8()?;
        if !(12..=24).contains(&bits) {
            return Err(ModelError::Invalid(format!("table size 2^{bits}")));
        }
        let char_min = self.u8()?;
        let char_max = self.u8()?;
        if char_max > 8 || (char_max > 0 && char_min > char_max) {
            return Err(ModelError::Invalid("character n-gram range".into()));
        }
        let char_scope = match self.u8()? {
            0 => CharScope::Word,
            1 => CharScope::Text,
            _ => return Err(ModelError::Invalid("character n-gram scope".into())),
        };
        let ngrams = self.u8()?;
        if ngrams > 3 {
            return Err(ModelError::Invalid("word n-gram setting".into()));
        }
        let word_bigrams = ngrams & 1 != 0;
        let word_trigrams = ngrams & 2 != 0;
        let neg = self.u8()?;
        if neg >> 1 > crate::features::idiom::ALL {
            return Err(ModelError::Invalid("idiom setting".into()));
        }
        let negation_marking = neg & 1 != 0;
        let idioms = neg >> 1;
        let lang = match self.u8()? {
            0 => LangMode::Shared,
            1 => LangMode::Separate,
            2 => LangMode::Both,
            _ => return Err(ModelError::Invalid("language mode".into())),
        };
        let sqrt_norm = self.u8()? != 0;
        Ok(FeatureOptions {
            bits,
            char_min,
            char_max,
            char_scope,
            word_bigrams,
            word_trigrams,
            negation_marking,
            idioms,
            lang,
            sqrt_norm,
        })
    }
    pub fn quantised(&mut self, k: usize, bits: u8) -> Result<Quantised, ModelError> {
        let kk = self.u32()? as usize;
        let b = self.u8()?;
        if kk != k || b != bits {
            return Err(ModelError::Invalid("weight table shape".into()));
        }
        let scale = self.f32s(k)?;
        let dense = self.f32s(crate::features::N_DENSE * k)?;
        let bias = self.f32s(k)?;
        let n = self.u32()? as usize;
        if n != (1usize << bits) * k {
            return Err(ModelError::Invalid("weight table size".into()));
        }
        let q = self.take(n)?.iter().map(|x| *x as i8).collect();
        Ok(Quantised {
            k,
            bits,
            q,
            scale,
            dense,
            bias,
        })
    }
    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }
    /// `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        self.take(n)
    }
    pub fn finish(&self) -> Result<(), ModelError> {
        if self.pos == self.b.len() {
            Ok(())
        } else {
            Err(ModelError::Invalid("trailing bytes".into()))
        }
    }
}
