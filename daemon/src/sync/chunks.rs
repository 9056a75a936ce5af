//! Splitting a batch's content into MQTT-sized chunks and putting it back
//! together on the edge, checking every chunk's sha256 as it arrives; the
//! whole is then verified against the signed manifest by
//! [`crate::hub::batch::verify`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Some brokers cap messages near 128 KiB; a chunk never exceeds it.
pub const MAX_CHUNK_BYTES: usize = 128 * 1024;
/// A batch announcing more than this is refused before anything is buffered.
pub const MAX_BATCH_BYTES: u64 = 512 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkInfo {
    pub index: u32,
    pub len: u32,
    /// Hex sha256 of the chunk's bytes.
    pub sha256: String,
}

/// The chunk list published with a batch's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkPlan {
    pub total_len: u64,
    pub chunks: Vec<ChunkInfo>,
}

/// Splits `content` into chunks of at most `max` bytes.
pub fn split(content: &[u8], max: usize) -> (ChunkPlan, Vec<&[u8]>) {
    assert!(max > 0 && max <= MAX_CHUNK_BYTES, "chunk size out of range");
    let parts: Vec<&[u8]> = if content.is_empty() {
        vec![content]
    } else {
        content.chunks(max).collect()
    };
    let chunks = parts
        .iter()
        .enumerate()
        .map(|(i, p)| ChunkInfo {
            index: i as u32,
            len: p.len() as u32,
            sha256: hex::encode(Sha256::digest(p)),
        })
        .collect();
    (
        ChunkPlan {
            total_len: content.len() as u64,
            chunks,
        },
        parts,
    )
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("the plan is inconsistent: {0}")]
    BadPlan(String),
    #[error("chunk {0} is not in the plan")]
    UnknownChunk(u32),
    #[error("chunk {index}: sha256 {actual} differs from the planned {expected}")]
    Corrupt {
        index: u32,
        expected: String,
        actual: String,
    },
}

/// Chunks of one batch arriving in any order, possibly twice.
#[derive(Debug)]
pub struct Reassembly {
    plan: ChunkPlan,
    parts: Vec<Option<Vec<u8>>>,
    received: usize,
}

impl Reassembly {
    /// Checks the plan before anything is buffered: sizes add up, indexes
    /// are 0..n in order, every chunk within the cap, the total within
    /// [`MAX_BATCH_BYTES`].
    pub fn new(plan: ChunkPlan) -> Result<Self, ChunkError> {
        let bad = |why: String| Err(ChunkError::BadPlan(why));
        if plan.total_len > MAX_BATCH_BYTES {
            return bad(format!(
                "{} bytes is over the {MAX_BATCH_BYTES}-byte cap",
                plan.total_len
            ));
        }
        if plan.chunks.is_empty() {
            return bad("no chunks".into());
        }
        let mut sum = 0u64;
        for (i, c) in plan.chunks.iter().enumerate() {
            if c.index as usize != i {
                return bad(format!("chunk {} listed at position {i}", c.index));
            }
            if c.len as usize > MAX_CHUNK_BYTES {
                return bad(format!(
                    "chunk {i} of {} bytes is over {MAX_CHUNK_BYTES}",
                    c.len
                ));
            }
            sum += c.len as u64;
        }
        if sum != plan.total_len {
            return bad(format!(
                "chunks add up to {sum} bytes, not {}",
                plan.total_len
            ));
        }
        let n = plan.chunks.len();
        Ok(Self {
            plan,
            parts: vec![None; n],
            received: 0,
        })
    }

    /// Takes one chunk. A redelivered chunk is accepted again harmlessly.
    pub fn accept(&mut self, index: u32, bytes: &[u8]) -> Result<(), ChunkError> {
        let info = self
            .plan
            .chunks
            .get(index as usize)
            .ok_or(ChunkError::UnknownChunk(index))?;
        let actual = hex::encode(Sha256::digest(bytes));
        if actual != info.sha256 || bytes.len() != info.len as usize {
            return Err(ChunkError::Corrupt {
                index,
                expected: info.sha256.clone(),
                actual,
            });
        }
        let slot = &mut self.parts[index as usize];
        if slot.is_none() {
            *slot = Some(bytes.to_vec());
            self.received += 1;
        }
        Ok(())
    }

    /// `(received, expected)`.
    pub fn progress(&self) -> (usize, usize) {
        (self.received, self.parts.len())
    }

    /// The whole content once every chunk is in.
    pub fn finish(self) -> Option<Vec<u8>> {
        if self.received < self.parts.len() {
            return None;
        }
        let mut out = Vec::with_capacity(self.plan.total_len as usize);
        for part in self.parts.into_iter().flatten() {
            out.extend_from_slice(&part);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn chunks_reassemble_in_any_order_with_redelivery() {
        let data = content(3 * MAX_CHUNK_BYTES + 17);
        let (plan, parts) = split(&data, MAX_CHUNK_BYTES);
        assert_eq!(plan.chunks.len(), 4);
        assert!(parts.iter().all(|p| p.len() <= MAX_CHUNK_BYTES));
        assert_eq!(
            parts[0].len(),
            MAX_CHUNK_BYTES,
            "a chunk of exactly the maximum size"
        );
        let mut r = Reassembly::new(plan).unwrap();
        for i in [3u32, 1, 1, 0] {
            r.accept(i, parts[i as usize]).unwrap();
        }
        assert_eq!(r.progress(), (3, 4));
        r.accept(2, parts[2]).unwrap();
        assert_eq!(r.finish().unwrap(), data);
    }

    #[test]
    fn corrupt_chunks_and_lying_plans_are_refused() {
        let data = content(1000);
        let (plan, parts) = split(&data, 300);
        let mut r = Reassembly::new(plan.clone()).unwrap();
        let mut flipped = parts[1].to_vec();
        flipped[5] ^= 1;
        assert!(matches!(
            r.accept(1, &flipped),
            Err(ChunkError::Corrupt { index: 1, .. })
        ));
        assert_eq!(r.accept(9, parts[0]), Err(ChunkError::UnknownChunk(9)));
        assert_eq!(r.progress(), (0, 4), "nothing bad was kept");

        let mut huge = plan.clone();
        huge.total_len = MAX_BATCH_BYTES + 1;
        assert!(matches!(Reassembly::new(huge), Err(ChunkError::BadPlan(_))));
        let mut short = plan.clone();
        short.total_len -= 1;
        assert!(matches!(
            Reassembly::new(short),
            Err(ChunkError::BadPlan(_))
        ));
        let mut shuffled = plan;
        shuffled.chunks.swap(0, 1);
        assert!(matches!(
            Reassembly::new(shuffled),
            Err(ChunkError::BadPlan(_))
        ));
    }
}
