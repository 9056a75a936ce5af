//! Verification accuracy over labelled pairs, at the one threshold.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use facerec_vision::{Descriptor, DetectorConfig, MATCH_THRESHOLD};

use super::table;
use crate::commands::faces::{load_engine, read_image};
use crate::config::Config;

pub fn run(config: &Config, dir: &Path) -> anyhow::Result<()> {
    let pairs_path = dir.join("pairs.csv");
    let text = std::fs::read_to_string(&pairs_path)
        .with_context(|| format!("cannot read {} (pass --faces DIR)", pairs_path.display()))?;
    let pairs: Vec<(String, String, bool)> = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            match f.as_slice() {
                [a, b, same] => Ok((a.to_string(), b.to_string(), *same == "1")),
                _ => bail!("{}: malformed line {l:?}", pairs_path.display()),
            }
        })
        .collect::<anyhow::Result<_>>()?;

    let engine = load_engine(config)?;
    let start = Instant::now();
    let mut descriptors: HashMap<String, Option<Descriptor>> = HashMap::new();
    for (a, b, _) in &pairs {
        for name in [a, b] {
            if descriptors.contains_key(name) {
                continue;
            }
            let img = read_image(&dir.join(name))?;
            let faces = engine.detect(&img, &DetectorConfig::default())?;
            let best = faces
                .iter()
                .max_by(|x, y| x.bbox.area().total_cmp(&y.bbox.area()));
            let d = best.map(|f| engine.embed_face(&img, f)).transpose()?;
            descriptors.insert(name.clone(), d);
        }
    }
    let elapsed = start.elapsed();

    let (mut tp, mut tn, mut fp, mut fn_, mut undetected) = (0u32, 0u32, 0u32, 0u32, 0u32);
    let (mut same_max, mut diff_min) = (0f32, f32::MAX);
    for (a, b, same) in &pairs {
        let (Some(da), Some(db)) = (&descriptors[a], &descriptors[b]) else {
            undetected += 1;
            // A pair with a missed face counts as a wrong answer.
            if *same {
                fn_ += 1
            } else {
                tn += 1
            }
            continue;
        };
        let d = da.distance(db);
        if *same {
            same_max = same_max.max(d);
        } else {
            diff_min = diff_min.min(d);
        }
        match (d < MATCH_THRESHOLD, *same) {
            (true, true) => tp += 1,
            (false, false) => tn += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
        }
    }
    let total = pairs.len() as f64;
    let positives = f64::from(tp + fn_);
    let negatives = f64::from(tn + fp);
    let mut t = table(&["measure", "value"]);
    t.add_row([
        "pairs (same / different)",
        &format!("{} ({} / {})", pairs.len(), positives, negatives),
    ]);
    t.add_row(["photos", &descriptors.len().to_string()]);
    t.add_row([
        "photos with no face found",
        &descriptors
            .values()
            .filter(|d| d.is_none())
            .count()
            .to_string(),
    ]);
    t.add_row(["threshold (Euclidean)", &format!("{MATCH_THRESHOLD}")]);
    t.add_row([
        "accuracy",
        &format!("{:.2}%", 100.0 * f64::from(tp + tn) / total),
    ]);
    t.add_row([
        "false-accept rate",
        &format!(
            "{:.2}% ({fp} pairs)",
            100.0 * f64::from(fp) / negatives.max(1.0)
        ),
    ]);
    t.add_row([
        "false-reject rate",
        &format!(
            "{:.2}% ({fn_} pairs)",
            100.0 * f64::from(fn_) / positives.max(1.0)
        ),
    ]);
    t.add_row(["largest same-person distance", &format!("{same_max:.3}")]);
    t.add_row([
        "smallest different-person distance",
        &format!("{diff_min:.3}"),
    ]);
    t.add_row(["pairs with a missed face", &undetected.to_string()]);
    t.add_row([
        "time (decode+detect+embed all photos)",
        &format!("{:.1} s", elapsed.as_secs_f64()),
    ]);
    println!("{t}");
    Ok(())
}
