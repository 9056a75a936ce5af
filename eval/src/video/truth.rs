//! A clip's ground truth: who is in view, frame by frame.
//!
//! ```text
//! # fps=10
//! from,to,person,x1,y1,x2,y2
//! 0,63,ana,,,,
//! 70,120,ana,100,40,260,230
//! 70,120,-,300,50,420,210
//! ```
//! Each row says that from frame `from` to frame `to` (inclusive, counted
//! from 0 in file-name order) `person` is in view — a gallery identity, or
//! `-` for a stranger, a face that must never be named. The box is the
//! region the face stays in; without one, the row is the only face in
//! those frames. Frames no row covers have nobody in view: a name there is
//! wrong. `fps` is the clip's frame rate (10 when absent).

use std::path::Path;

use anyhow::{Context, bail};
use facerec_vision::BBox;

#[derive(Debug, Clone, PartialEq)]
pub enum Who {
    Person(String),
    Stranger,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub from: usize,
    pub to: usize,
    pub who: Who,
    pub region: Option<BBox>,
}

#[derive(Debug, Clone)]
pub struct Truth {
    pub fps: f32,
    pub rows: Vec<Row>,
}

impl Truth {
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the ground truth {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut fps = 10.0;
        let mut rows = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(comment) = line.strip_prefix('#') {
                if let Some(v) = comment.trim().strip_prefix("fps=") {
                    fps = v
                        .trim()
                        .parse()
                        .ok()
                        .filter(|f: &f32| *f > 0.0 && *f <= 240.0)
                        .with_context(|| format!("line {}: fps must be 0–240", n + 1))?;
                }
                continue;
            }
            if line.is_empty() || line.starts_with("from,") {
                continue;
            }
            rows.push(parse_row(line).with_context(|| format!("line {}: `{line}`", n + 1))?);
        }
        Ok(Self { fps, rows })
    }

    /// The rows covering `frame`.
    pub fn at(&self, frame: usize) -> impl Iterator<Item = &Row> {
        self.rows
            .iter()
            .filter(move |r| (r.from..=r.to).contains(&frame))
    }

    /// Which row, if any, the face in `bbox` at `frame` is: the row whose
    /// region holds the box's centre, or the frame's only row when it has
    /// no region.
    pub fn row_of(&self, frame: usize, bbox: &BBox) -> Option<&Row> {
        let rows: Vec<&Row> = self.at(frame).collect();
        let (cx, cy) = ((bbox.x1 + bbox.x2) / 2.0, (bbox.y1 + bbox.y2) / 2.0);
        rows.iter()
            .find(|r| {
                r.region
                    .is_some_and(|b| (b.x1..=b.x2).contains(&cx) && (b.y1..=b.y2).contains(&cy))
            })
            .or_else(|| match rows[..] {
                [only] if only.region.is_none() => Some(&rows[0]),
                _ => None,
            })
            .copied()
    }
}

fn parse_row(line: &str) -> anyhow::Result<Row> {
    let cols: Vec<&str> = line.split(',').map(str::trim).collect();
    if cols.len() != 3 && cols.len() != 7 {
        bail!("a row has 3 or 7 columns: from,to,person[,x1,y1,x2,y2]");
    }
    let frame = |s: &str, what: &str| -> anyhow::Result<usize> {
        s.parse()
            .with_context(|| format!("{what} must be a frame number"))
    };
    let (from, to) = (frame(cols[0], "from")?, frame(cols[1], "to")?);
    if to < from {
        bail!("to ({to}) is before from ({from})");
    }
    let who = match cols[2] {
        "" => bail!("person is empty (use - for a stranger)"),
        "-" => Who::Stranger,
        p => Who::Person(p.to_string()),
    };
    let region = if cols.len() == 7 && cols[3..].iter().any(|c| !c.is_empty()) {
        let v: Vec<f32> = cols[3..]
            .iter()
            .map(|c| c.parse::<f32>().context("a box is four numbers"))
            .collect::<anyhow::Result<_>>()?;
        if v[2] <= v[0] || v[3] <= v[1] {
            bail!("the box must have x2 > x1 and y2 > y1");
        }
        Some(BBox {
            x1: v[0],
            y1: v[1],
            x2: v[2],
            y2: v[3],
        })
    } else {
        None
    };
    Ok(Row {
        from,
        to,
        who,
        region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bbox(x1: f32, y1: f32, x2: f32, y2: f32) -> BBox {
        BBox { x1, y1, x2, y2 }
    }

    #[test]
    fn rows_with_and_without_regions() {
        let t = Truth::parse(
            "# fps=12\nfrom,to,person,x1,y1,x2,y2\n0,9,ana,,,,\n10,19,ana,0,0,100,100\n10,19,-,200,0,300,100\n",
        )
        .unwrap();
        assert_eq!(t.fps, 12.0);
        assert_eq!(
            t.row_of(3, &bbox(400.0, 400.0, 450.0, 450.0)).unwrap().who,
            Who::Person("ana".into())
        );
        assert_eq!(
            t.row_of(12, &bbox(210.0, 10.0, 260.0, 60.0)).unwrap().who,
            Who::Stranger
        );
        assert!(t.row_of(12, &bbox(500.0, 10.0, 560.0, 60.0)).is_none());
        assert!(t.row_of(25, &bbox(0.0, 0.0, 10.0, 10.0)).is_none());
    }

    #[test]
    fn bad_rows_say_what_is_wrong() {
        for (text, says) in [
            ("5,2,ana", "before"),
            ("0,2,", "stranger"),
            ("0,2,ana,1,2,3", "3 or 7"),
            ("0,2,ana,10,0,5,9", "x2 > x1"),
            ("# fps=0", "fps"),
            ("x,2,ana", "frame number"),
        ] {
            let err = format!("{:#}", Truth::parse(text).unwrap_err());
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
