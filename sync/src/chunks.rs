//! Splitting a batch's content into MQTT-sized chunks and putting it back
//! together on the edge, in a spool file rather than in memory.
//!
//! A chunk is one MQTT message (≤ 128 KiB). A *segment* is
//! [`SEGMENT_CHUNKS`] consecutive chunks (4 MiB): the unit of checking and
//! of flow control. The plan carries each segment's sha256; an edge checks
//! a segment as soon as its last chunk is in and asks again for one that
//! is corrupt or missing. A batch too large to push at once (a snapshot of
//! a million descriptors is ~900 MB) is sent only as the edge asks for it,
//! a few segments at a time, so neither the broker's queue nor the edge's
//! memory ever holds more than those. The whole content is then verified
//! against the signed manifest by [`crate::batch::verify_file`].
//!
//! Older edges read only `chunks`, a sha256 per chunk, which the hub lists
//! for the batches it pushes whole.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Some brokers cap messages near 128 KiB; a chunk never exceeds it.
pub const MAX_CHUNK_BYTES: usize = 128 * 1024;
/// The smallest chunk a plan of more than one chunk may use.
pub const MIN_CHUNK_BYTES: usize = 1024;
/// Chunks per segment (4 MiB of content).
pub const SEGMENT_CHUNKS: u32 = 32;
/// A batch of up to this many chunks (128 MiB) is pushed whole with its
/// manifest; a larger one is sent segment by segment as edges ask.
pub const PUSH_MAX_CHUNKS: usize = 1024;
/// A batch announcing more than this is refused before anything is spooled.
pub const MAX_BATCH_BYTES: u64 = 8 << 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkInfo {
    pub index: u32,
    pub len: u32,
    /// Hex sha256 of the chunk's bytes.
    pub sha256: String,
}

/// How a batch's content is cut, published with its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkPlan {
    pub total_len: u64,
    /// Every chunk and its sha256, for a batch pushed whole (what older
    /// edges read); empty for a batch sent on request.
    #[serde(default)]
    pub chunks: Vec<ChunkInfo>,
    /// The segments (absent from older hubs' plans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<Segments>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segments {
    /// Bytes per chunk (the last chunk may be shorter).
    pub chunk_len: u32,
    pub chunks_per_segment: u32,
    /// Hex sha256 of each segment's bytes, in order.
    pub sha256: Vec<String>,
    /// The hub sends this batch's chunks only when an edge asks for
    /// segments (it was too large to push whole).
    pub on_request: bool,
}

/// The plan of the content in `file`, read once: chunks of `chunk_len`,
/// segments of `chunks_per_segment`, and the whole content's hex sha256.
/// Chunks are listed (and the batch pushed) when there are at most
/// `push_max` of them.
pub fn plan_file(
    file: &Path,
    chunk_len: usize,
    chunks_per_segment: u32,
    push_max: usize,
) -> std::io::Result<(ChunkPlan, String)> {
    let file = File::open(file)?;
    let len = file.metadata()?.len();
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    plan_reader(reader, len, chunk_len, chunks_per_segment, push_max)
}

/// The plan of content in memory and its chunks, pushed whole.
pub fn split(content: &[u8], chunk_len: usize) -> (ChunkPlan, Vec<&[u8]>) {
    let len = content.len() as u64;
    let (plan, _) = plan_reader(content, len, chunk_len, SEGMENT_CHUNKS, usize::MAX)
        .expect("reading memory cannot fail");
    let parts = if content.is_empty() {
        vec![content]
    } else {
        content.chunks(chunk_len).collect()
    };
    (plan, parts)
}

/// The plan of `len` bytes from `reader`. Chunks are hashed one by one
/// only when they will be listed (a batch pushed whole).
fn plan_reader(
    mut reader: impl Read,
    len: u64,
    chunk_len: usize,
    chunks_per_segment: u32,
    push_max: usize,
) -> std::io::Result<(ChunkPlan, String)> {
    assert!(
        chunk_len > 0 && chunk_len <= MAX_CHUNK_BYTES && chunks_per_segment > 0,
        "chunking out of range"
    );
    let mut whole = Sha256::new();
    let mut segment = Sha256::new();
    let (mut chunks, mut segment_hashes) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; chunk_len];
    let mut total_len = 0u64;
    let mut unfinished_segment = false;
    let on_request = len.div_ceil(chunk_len as u64).max(1) > push_max as u64;
    loop {
        let n = read_full(&mut reader, &mut buf)?;
        if n == 0 && !chunks.is_empty() {
            break;
        }
        let bytes = &buf[..n];
        whole.update(bytes);
        segment.update(bytes);
        unfinished_segment = true;
        chunks.push(ChunkInfo {
            index: chunks.len() as u32,
            len: n as u32,
            sha256: if on_request {
                String::new()
            } else {
                hex::encode(Sha256::digest(bytes))
            },
        });
        total_len += n as u64;
        if (chunks.len() as u32).is_multiple_of(chunks_per_segment) {
            segment_hashes.push(hex::encode(std::mem::take(&mut segment).finalize()));
            unfinished_segment = false;
        }
        if n < chunk_len {
            break;
        }
    }
    if unfinished_segment {
        segment_hashes.push(hex::encode(segment.finalize()));
    }
    // Whether chunks were hashed was decided from `len`: a file that grew
    // or shrank while read would get a plan that lies about it.
    if total_len != len {
        return Err(std::io::Error::other(format!(
            "the batch changed while it was read ({len} bytes, then {total_len})"
        )));
    }
    if on_request {
        chunks.clear();
    }
    let plan = ChunkPlan {
        total_len,
        chunks,
        segments: Some(Segments {
            chunk_len: chunk_len as u32,
            chunks_per_segment,
            sha256: segment_hashes,
            on_request,
        }),
    };
    Ok((plan, hex::encode(whole.finalize())))
}

/// Reads until `buf` is full or the input ends; the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("the plan is inconsistent: {0}")]
    BadPlan(String),
    #[error("chunk {0} is not in the plan")]
    UnknownChunk(u32),
    #[error("chunk {index} has {actual} bytes where the plan says {expected}")]
    WrongLength {
        index: u32,
        expected: usize,
        actual: usize,
    },
    #[error("segment {segment}: sha256 {actual} differs from the planned {expected}")]
    CorruptSegment {
        segment: u32,
        expected: String,
        actual: String,
    },
    #[error("the spool file {path}: {reason}")]
    Spool { path: String, reason: String },
}

/// The plan as the receiver uses it: every form reduced to fixed-size
/// chunks in segments (an older hub's per-chunk hashes are segments of
/// one chunk).
#[derive(Debug, Clone)]
pub struct Layout {
    pub total_len: u64,
    pub chunk_len: usize,
    pub chunks_per_segment: u32,
    pub chunks: u32,
    segment_sha256: Vec<String>,
    pub on_request: bool,
}

impl Layout {
    /// Checks the plan before anything is spooled: sizes add up, counts
    /// match, the total is within [`MAX_BATCH_BYTES`].
    pub fn of(plan: &ChunkPlan) -> Result<Self, ChunkError> {
        let bad = |why: String| Err(ChunkError::BadPlan(why));
        if plan.total_len > MAX_BATCH_BYTES {
            return bad(format!(
                "{} bytes is over the {MAX_BATCH_BYTES}-byte cap",
                plan.total_len
            ));
        }
        let layout = match &plan.segments {
            Some(s) => Self::of_segments(plan.total_len, s)?,
            None => Self::of_chunk_list(plan)?,
        };
        let hex_digest = |h: &String| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit());
        if !layout.segment_sha256.iter().all(hex_digest) {
            return bad("a sha256 is not 64 hex digits".into());
        }
        Ok(layout)
    }

    fn of_segments(total_len: u64, s: &Segments) -> Result<Self, ChunkError> {
        let bad = |why: String| Err(ChunkError::BadPlan(why));
        // Tiny chunks would make a lying plan cost memory per chunk.
        let smallest = (total_len as usize).clamp(1, MIN_CHUNK_BYTES);
        if (s.chunk_len as usize) < smallest || s.chunk_len as usize > MAX_CHUNK_BYTES {
            return bad(format!("chunks of {} bytes", s.chunk_len));
        }
        if s.chunks_per_segment == 0 {
            return bad("segments of no chunks".into());
        }
        let chunks = total_len.div_ceil(s.chunk_len as u64).max(1);
        let segments = chunks.div_ceil(s.chunks_per_segment as u64);
        if segments != s.sha256.len() as u64 {
            return bad(format!(
                "{total_len} bytes make {segments} segments, but {} are listed",
                s.sha256.len()
            ));
        }
        Ok(Self {
            total_len,
            chunk_len: s.chunk_len as usize,
            chunks_per_segment: s.chunks_per_segment,
            chunks: chunks as u32,
            segment_sha256: s.sha256.clone(),
            on_request: s.on_request,
        })
    }

    fn of_chunk_list(plan: &ChunkPlan) -> Result<Self, ChunkError> {
        let bad = |why: String| Err(ChunkError::BadPlan(why));
        let Some(first) = plan.chunks.first() else {
            return bad("no chunks".into());
        };
        let chunk_len = first.len.max(1) as usize;
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
            let last = i + 1 == plan.chunks.len();
            if !last && c.len as usize != chunk_len || last && c.len as usize > chunk_len {
                return bad(format!(
                    "chunk {i} of {} bytes breaks the chunk size",
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
        Ok(Self {
            total_len: plan.total_len,
            chunk_len,
            chunks_per_segment: 1,
            chunks: plan.chunks.len() as u32,
            segment_sha256: plan.chunks.iter().map(|c| c.sha256.clone()).collect(),
            on_request: false,
        })
    }

    pub fn segments(&self) -> u32 {
        self.segment_sha256.len() as u32
    }

    /// The chunks of `segment`.
    pub fn segment_chunks(&self, segment: u32) -> std::ops::Range<u32> {
        let start = segment * self.chunks_per_segment;
        start..(start + self.chunks_per_segment).min(self.chunks)
    }

    /// The byte range of chunk `index`.
    pub fn chunk_range(&self, index: u32) -> std::ops::Range<u64> {
        let start = index as u64 * self.chunk_len as u64;
        start..(start + self.chunk_len as u64).min(self.total_len)
    }

    fn segment_range(&self, segment: u32) -> std::ops::Range<u64> {
        let chunks = self.segment_chunks(segment);
        self.chunk_range(chunks.start).start..self.chunk_range(chunks.end - 1).end
    }
}

/// What taking a chunk did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    Stored,
    /// Already had it (a redelivery).
    Duplicate,
    /// The chunk completed its segment, which checked out.
    SegmentComplete(u32),
}

/// Chunks of one batch arriving in any order, possibly twice, written into
/// a spool file at their place.
#[derive(Debug)]
pub struct Reassembly {
    plan: ChunkPlan,
    layout: Layout,
    spool: Spooled,
    have: Vec<bool>,
    segment_have: Vec<u32>,
    segment_done: Vec<bool>,
    segments_done: u32,
}

impl Reassembly {
    /// Checks the plan and creates the (sparse) spool file at `spool`.
    pub fn new(plan: &ChunkPlan, spool: PathBuf) -> Result<Self, ChunkError> {
        let layout = Layout::of(plan)?;
        let spool = Spooled::create(spool, layout.total_len)?;
        let segments = layout.segments() as usize;
        Ok(Self {
            have: vec![false; layout.chunks as usize],
            segment_have: vec![0; segments],
            segment_done: vec![false; segments],
            segments_done: 0,
            plan: plan.clone(),
            layout,
            spool,
        })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The plan it follows (a batch announced again with the same plan
    /// keeps what has arrived).
    pub fn plan(&self) -> &ChunkPlan {
        &self.plan
    }

    /// Takes one chunk. A redelivered chunk is accepted again harmlessly.
    /// A segment whose bytes do not match its sha256 is emptied, to be
    /// asked for again.
    pub fn accept(&mut self, index: u32, bytes: &[u8]) -> Result<Accepted, ChunkError> {
        if index >= self.layout.chunks {
            return Err(ChunkError::UnknownChunk(index));
        }
        let range = self.layout.chunk_range(index);
        let expected = (range.end - range.start) as usize;
        if bytes.len() != expected {
            return Err(ChunkError::WrongLength {
                index,
                expected,
                actual: bytes.len(),
            });
        }
        if self.have[index as usize] {
            return Ok(Accepted::Duplicate);
        }
        self.spool.write_at(bytes, range.start)?;
        self.have[index as usize] = true;
        let segment = index / self.layout.chunks_per_segment;
        self.segment_have[segment as usize] += 1;
        let chunks = self.layout.segment_chunks(segment);
        if self.segment_have[segment as usize] < chunks.end - chunks.start {
            return Ok(Accepted::Stored);
        }
        let actual = self.spool.sha256(self.layout.segment_range(segment))?;
        let expected = &self.layout.segment_sha256[segment as usize];
        if actual != *expected {
            for c in chunks {
                self.have[c as usize] = false;
            }
            self.segment_have[segment as usize] = 0;
            return Err(ChunkError::CorruptSegment {
                segment,
                expected: expected.clone(),
                actual,
            });
        }
        self.segment_done[segment as usize] = true;
        self.segments_done += 1;
        Ok(Accepted::SegmentComplete(segment))
    }

    /// The segments not yet complete, in order.
    pub fn missing_segments(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.layout.segments()).filter(|s| !self.segment_done[*s as usize])
    }

    /// `(segments complete, segments)`.
    pub fn progress(&self) -> (u32, u32) {
        (self.segments_done, self.layout.segments())
    }

    pub fn is_complete(&self) -> bool {
        self.segments_done == self.layout.segments()
    }

    /// The spooled content once every segment is in.
    pub fn finish(self) -> Option<Spooled> {
        self.is_complete().then_some(self.spool)
    }
}

/// A spool file, deleted when dropped.
#[derive(Debug)]
pub struct Spooled {
    path: PathBuf,
    file: File,
}

impl Spooled {
    fn create(path: PathBuf, len: u64) -> Result<Self, ChunkError> {
        let fail = |e: std::io::Error| ChunkError::Spool {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(fail)?;
        file.set_len(len).map_err(fail)?;
        Ok(Self { path, file })
    }

    fn fail(&self, e: std::io::Error) -> ChunkError {
        ChunkError::Spool {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }

    fn write_at(&self, bytes: &[u8], offset: u64) -> Result<(), ChunkError> {
        self.file
            .write_all_at(bytes, offset)
            .map_err(|e| self.fail(e))
    }

    fn sha256(&self, range: std::ops::Range<u64>) -> Result<String, ChunkError> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; MAX_CHUNK_BYTES];
        let mut at = range.start;
        while at < range.end {
            let n = ((range.end - at) as usize).min(buf.len());
            self.file
                .read_exact_at(&mut buf[..n], at)
                .map_err(|e| self.fail(e))?;
            hasher.update(&buf[..n]);
            at += n as u64;
        }
        Ok(hex::encode(hasher.finalize()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A reader of the content from its start.
    pub fn reader(&self) -> std::io::Result<File> {
        File::open(&self.path)
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads the bytes of `range` from `file` (a hub serving a segment).
pub fn read_range(file: &Path, range: std::ops::Range<u64>) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; (range.end - range.start) as usize];
    File::open(file)?.read_exact_at(&mut buf, range.start)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: usize = MIN_CHUNK_BYTES;

    fn content(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// The content in a file, its plan and its chunks.
    fn planned(
        dir: &Path,
        data: &[u8],
        chunk: usize,
        per_segment: u32,
        push_max: usize,
    ) -> (ChunkPlan, String, Vec<Vec<u8>>) {
        let file = dir.join("content");
        std::fs::write(&file, data).unwrap();
        let (plan, sha) = plan_file(&file, chunk, per_segment, push_max).unwrap();
        let parts = if data.is_empty() {
            vec![vec![]]
        } else {
            data.chunks(chunk).map(<[u8]>::to_vec).collect()
        };
        (plan, sha, parts)
    }

    fn spooled_bytes(s: &Spooled) -> Vec<u8> {
        std::fs::read(s.path()).unwrap()
    }

    #[test]
    fn the_plan_hashes_segments_and_lists_chunks_only_when_pushed() {
        let dir = tempfile::tempdir().unwrap();
        let data = content(10 * C + 17);
        let (plan, sha, parts) = planned(dir.path(), &data, C, 4, 100);
        assert_eq!(sha, hex::encode(Sha256::digest(&data)));
        assert_eq!(plan.total_len, data.len() as u64);
        assert_eq!(plan.chunks.len(), 11, "pushed: every chunk listed");
        let s = plan.segments.as_ref().unwrap();
        assert_eq!(s.sha256.len(), 3, "11 chunks in segments of 4");
        assert_eq!(s.sha256[2], hex::encode(Sha256::digest(&data[8 * C..])));
        assert!(!s.on_request);
        assert_eq!(
            plan.chunks[10].sha256,
            hex::encode(Sha256::digest(&parts[10]))
        );

        let (big, _, _) = planned(dir.path(), &data, C, 4, 10);
        assert!(big.chunks.is_empty() && big.segments.unwrap().on_request);

        // Exactly a whole number of segments, and an empty content.
        let (even, _, _) = planned(dir.path(), &content(8 * C), C, 4, 100);
        assert_eq!(even.segments.unwrap().sha256.len(), 2);
        let (empty, _, _) = planned(dir.path(), &[], C, 4, 100);
        assert_eq!(empty.chunks.len(), 1);
        assert_eq!(Layout::of(&empty).unwrap().segments(), 1);
    }

    #[test]
    fn chunks_reassemble_in_any_order_with_redelivery() {
        let dir = tempfile::tempdir().unwrap();
        let data = content(10 * C + 17);
        let (plan, _, parts) = planned(dir.path(), &data, C, 4, 100);
        let mut r = Reassembly::new(&plan, dir.path().join("spool")).unwrap();
        let mut order: Vec<u32> = (0..11).rev().collect();
        order.insert(3, 10);
        let mut completed = vec![];
        for i in order {
            if let Accepted::SegmentComplete(s) = r.accept(i, &parts[i as usize]).unwrap() {
                completed.push(s);
            }
        }
        assert_eq!(completed, vec![2, 1, 0]);
        assert_eq!(r.progress(), (3, 3));
        let spooled = r.finish().unwrap();
        assert_eq!(spooled_bytes(&spooled), data);
        let path = spooled.path().to_path_buf();
        drop(spooled);
        assert!(!path.exists(), "the spool is deleted with it");
    }

    #[test]
    fn an_older_hubs_chunk_list_reassembles_too() {
        let dir = tempfile::tempdir().unwrap();
        let data = content(3 * C + 5);
        let (mut plan, _, parts) = planned(dir.path(), &data, C, 4, 100);
        plan.segments = None;
        let mut r = Reassembly::new(&plan, dir.path().join("spool")).unwrap();
        assert_eq!(r.layout().segments(), 4, "a segment per chunk");
        for (i, p) in parts.iter().enumerate() {
            r.accept(i as u32, p).unwrap();
        }
        assert_eq!(spooled_bytes(&r.finish().unwrap()), data);
    }

    #[test]
    fn a_corrupt_segment_is_emptied_and_taken_again() {
        let dir = tempfile::tempdir().unwrap();
        let data = content(8 * C);
        let (plan, _, parts) = planned(dir.path(), &data, C, 4, 100);
        let mut r = Reassembly::new(&plan, dir.path().join("spool")).unwrap();
        for i in 0..3 {
            r.accept(i, &parts[i as usize]).unwrap();
        }
        let mut flipped = parts[3].clone();
        flipped[5] ^= 1;
        assert!(matches!(
            r.accept(3, &flipped),
            Err(ChunkError::CorruptSegment { segment: 0, .. })
        ));
        assert_eq!(r.missing_segments().collect::<Vec<_>>(), vec![0, 1]);
        assert!(matches!(
            r.accept(9, &parts[0]),
            Err(ChunkError::UnknownChunk(9))
        ));
        assert!(matches!(
            r.accept(4, &parts[4][..10]),
            Err(ChunkError::WrongLength { index: 4, .. })
        ));
        for i in 0..8 {
            r.accept(i, &parts[i as usize]).unwrap();
        }
        assert_eq!(spooled_bytes(&r.finish().unwrap()), data);
    }

    #[test]
    fn lying_plans_are_refused_before_anything_is_spooled() {
        let dir = tempfile::tempdir().unwrap();
        let data = content(4 * C - 100);
        let (plan, _, _) = planned(dir.path(), &data, C, 2, 100);
        let refused = |p: &ChunkPlan| matches!(Layout::of(p), Err(ChunkError::BadPlan(_)));
        let mut huge = plan.clone();
        huge.total_len = MAX_BATCH_BYTES + 1;
        assert!(refused(&huge));
        let mut more = plan.clone();
        more.total_len += C as u64;
        assert!(refused(&more), "the segment count no longer fits");
        let mut zero = plan.clone();
        zero.segments.as_mut().unwrap().chunk_len = 0;
        assert!(refused(&zero));
        let mut tiny = plan.clone();
        tiny.total_len = MAX_BATCH_BYTES;
        tiny.segments.as_mut().unwrap().chunk_len = 1;
        assert!(refused(&tiny), "8 G chunks of one byte");
        let mut not_hex = plan.clone();
        not_hex.segments.as_mut().unwrap().sha256[0] = "../x".into();
        assert!(refused(&not_hex));

        let mut list = plan;
        list.segments = None;
        let mut short = list.clone();
        short.total_len -= 1;
        assert!(refused(&short));
        let mut shuffled = list.clone();
        shuffled.chunks.swap(0, 1);
        assert!(refused(&shuffled));
        let mut ragged = list;
        ragged.chunks[1].len -= 1;
        ragged.total_len -= 1;
        assert!(refused(&ragged));
        assert!(
            !dir.path().join("spool").exists(),
            "a refused plan spools nothing"
        );
    }
}
