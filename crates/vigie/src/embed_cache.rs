//! Sentence embeddings of the labelled datasets, cached on disk: the encoder
//! takes minutes over them, and training and evaluation both need them.
//!
//! One file in the models directory, `embeddings-cache.bin`: records of
//! (u64 key, u16 dimension, dimension × f32), appended as texts are embedded.
//! The key hashes the encoder's model file name, the prefix and the text, so
//! a different encoder or prefix never reads stale vectors. A damaged tail
//! (a crash mid-append) is dropped on load.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use vigie_encoder::Encoder;

const FILE: &str = "embeddings-cache.bin";
/// Texts embedded per call (the encoder parallelises across them).
const CHUNK: usize = 64;

pub struct EmbeddingCache {
    path: PathBuf,
    vectors: HashMap<u64, Vec<f32>>,
}

fn key(text: &str, is_query: bool) -> u64 {
    let mut h = Sha256::new();
    h.update(vigie_encoder::MODEL_SHA256.as_bytes());
    h.update([u8::from(is_query)]);
    h.update(text.as_bytes());
    let digest = h.finalize();
    let mut k = [0u8; 8];
    k.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(k)
}

impl EmbeddingCache {
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(FILE);
        let mut vectors = HashMap::new();
        if let Ok(mut f) = File::open(&path) {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).with_context(|| format!("cannot read {}", path.display()))?;
            let mut at = 0;
            while at + 10 <= bytes.len() {
                let k = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
                let dim = usize::from(u16::from_le_bytes([bytes[at + 8], bytes[at + 9]]));
                let end = at + 10 + dim * 4;
                if end > bytes.len() {
                    break;
                }
                let v: Vec<f32> =
                    bytes[at + 10..end].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
                vectors.insert(k, v);
                at = end;
            }
        }
        Ok(EmbeddingCache { path, vectors })
    }

    /// Embeddings of `texts`, from the cache or computed (and appended).
    pub fn embed(
        &mut self,
        encoder: &Encoder,
        texts: &[&str],
        is_query: bool,
        progress: &mut dyn FnMut(&str),
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        let keys: Vec<u64> = texts.iter().map(|t| key(t, is_query)).collect();
        let missing: Vec<usize> = (0..texts.len()).filter(|i| !self.vectors.contains_key(&keys[*i])).collect();
        if !missing.is_empty() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .with_context(|| format!("cannot write {}", self.path.display()))?;
            let mut w = BufWriter::new(file);
            let started = std::time::Instant::now();
            for (n, chunk) in missing.chunks(CHUNK).enumerate() {
                let batch: Vec<&str> = chunk.iter().map(|i| texts[*i]).collect();
                let vectors = encoder.embed_batch(&batch, is_query);
                for (i, v) in chunk.iter().zip(vectors) {
                    w.write_all(&keys[*i].to_le_bytes())?;
                    w.write_all(&(v.len() as u16).to_le_bytes())?;
                    for x in &v {
                        w.write_all(&x.to_le_bytes())?;
                    }
                    self.vectors.insert(keys[*i], v);
                }
                w.flush()?;
                let done = ((n + 1) * CHUNK).min(missing.len());
                let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
                progress(&format!("  embedded {done}/{} ({rate:.0} texts/s)", missing.len()));
            }
        }
        Ok(keys.iter().map(|k| self.vectors.get(k).cloned().unwrap_or_default()).collect())
    }
}
