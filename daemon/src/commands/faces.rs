//! `facerecd faces …`: the vision pipeline on image files, JSON out.

use std::path::Path;

use anyhow::{Context, bail};
use facerec_vision::{
    DecodeLimits, DetectorConfig, FaceEngine, ModelFiles, QualityGate, RgbImage, decode_image,
};
use serde_json::json;

use crate::cli::{FacesArgs, FacesCommand};
use crate::config::Config;

pub fn load_engine(config: &Config) -> anyhow::Result<FaceEngine> {
    FaceEngine::load(&ModelFiles::new(&config.models_dir)).with_context(|| {
        format!(
            "cannot load the face models from {}",
            config.models_dir.display()
        )
    })
}

/// The engine of the pack called `pack`.
pub fn load_pack_engine(config: &Config, pack: &str) -> anyhow::Result<FaceEngine> {
    let pack = facerec_vision::ModelPack::named(pack)?;
    FaceEngine::load_pack(&ModelFiles::new(&config.models_dir), pack).with_context(|| {
        format!(
            "cannot load the {} models from {}",
            pack.name,
            config.models_dir.display()
        )
    })
}

pub fn read_image(path: &Path) -> anyhow::Result<RgbImage> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    decode_image(&bytes, &DecodeLimits::default()).with_context(|| format!("{}", path.display()))
}

pub fn run(config: &Config, args: FacesArgs) -> anyhow::Result<()> {
    let engine = match &args.pack {
        Some(pack) => load_pack_engine(config, pack)?,
        None => load_engine(config)?,
    };
    let out = match args.command {
        FacesCommand::Detect { image, min_face } => faces_json(&engine, &image, min_face, false)?,
        FacesCommand::Embed { image, min_face } => faces_json(&engine, &image, min_face, true)?,
        FacesCommand::Compare { a, b } => {
            let da = largest_face_descriptor(&engine, &a)?;
            let db = largest_face_descriptor(&engine, &b)?;
            let distance = da.distance(&db);
            let pack = engine.pack;
            // Printed at 6 decimals: f32 → JSON would show 0.6000000238.
            let round = |v: f32| (f64::from(v) * 1e6).round() / 1e6;
            // `score` and `threshold` in the pack's own metric (a cosine
            // similarity for sface-v1); `distance` is what indexes use.
            json!({"a": a, "b": b, "pack": pack.name, "metric": pack.metric,
                   "score": round(pack.score_of(distance)), "threshold": round(pack.threshold),
                   "distance": round(distance), "same": distance < pack.match_distance()})
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// `{"file", "width", "height", "faces": [...]}`, with descriptors if asked.
fn faces_json(
    engine: &FaceEngine,
    path: &Path,
    min_face: f32,
    embed: bool,
) -> anyhow::Result<serde_json::Value> {
    let img = read_image(path)?;
    let config = DetectorConfig {
        min_face,
        ..Default::default()
    };
    let gate = QualityGate::default();
    let mut faces = Vec::new();
    for face in engine.detect(&img, &config)? {
        let refused = gate.check(&img, &face).err();
        let mut value = serde_json::to_value(&face)?;
        if embed {
            value["descriptor"] = serde_json::to_value(engine.embed_face(&img, &face)?)?;
        }
        value["refused"] = refusal_json(refused);
        faces.push(value);
    }
    Ok(
        json!({"file": path, "width": img.width(), "height": img.height(),
              "pack": engine.pack.name, "faces": faces}),
    )
}

/// `null` for a face the default quality gate lets through, else its
/// reason and the measure against the limit.
fn refusal_json(refused: Option<facerec_vision::Refusal>) -> serde_json::Value {
    match refused {
        None => serde_json::Value::Null,
        Some(r) => json!({"reason": r.reason(), "detail": r.to_string()}),
    }
}

fn largest_face_descriptor(
    engine: &FaceEngine,
    path: &Path,
) -> anyhow::Result<facerec_vision::Descriptor> {
    let img = read_image(path)?;
    let faces = engine.detect(&img, &DetectorConfig::default())?;
    let Some(face) = faces
        .iter()
        .max_by(|x, y| x.bbox.area().total_cmp(&y.bbox.area()))
    else {
        bail!("{}: no face found", path.display());
    };
    Ok(engine.embed_face(&img, face)?)
}
