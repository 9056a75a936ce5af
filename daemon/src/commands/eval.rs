//! `facerecd eval`: the command around [`facerec_eval`].

use facerec_vision::{DetectorConfig, ModelPack, PACKS};

use anyhow::Context;

use crate::cli::{EvalArgs, EvalCommand};
use crate::config::Config;
use facerec_eval::video::{self, VideoRequest, montage};
use facerec_eval::{EvalRequest, print_table, run as evaluate};
use facerec_live::LiveSettings;

pub fn run(config: &Config, args: &EvalArgs) -> anyhow::Result<()> {
    match &args.command {
        Some(EvalCommand::Video {
            gallery,
            clips,
            pack,
            settings,
            json,
        }) => {
            let settings = match settings {
                None => LiveSettings::default(),
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    toml::from_str(&text).with_context(|| format!("{}", path.display()))?
                }
            };
            let pack = match pack {
                Some(name) => ModelPack::named(name)?,
                None => facerec_vision::DEFAULT_PACK,
            };
            let report = video::run(&VideoRequest {
                gallery: gallery.clone(),
                clips: clips.clone(),
                pack,
                models_dir: config.models_dir.clone(),
                settings,
            })?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                video::print_table(&report);
            }
            return Ok(());
        }
        Some(EvalCommand::Montage {
            photos,
            out,
            people,
        }) => {
            let m = montage::build(&montage::MontageRequest {
                photos: photos.clone(),
                out: out.clone(),
                people: *people,
                models_dir: config.models_dir.clone(),
            })?;
            println!(
                "{} frames in {} shots: {} (people: {}; strangers: {})\ngallery: {}",
                m.frames,
                m.shots,
                m.clip.display(),
                m.people.join(", "),
                m.strangers.join(", "),
                m.gallery.display()
            );
            return Ok(());
        }
        None => {}
    }
    if cfg!(debug_assertions) && !args.json {
        eprintln!("warning: this is a debug build; timings mean nothing (use --release)");
    }
    let packs = if args.packs.is_empty() {
        PACKS.to_vec()
    } else {
        args.packs
            .iter()
            .map(|name| ModelPack::named(name))
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut detector = DetectorConfig {
        min_face: args.min_face,
        ..DetectorConfig::default()
    };
    if let Some(score) = args.score_threshold {
        anyhow::ensure!(
            (0.0..=1.0).contains(&score),
            "--score-threshold must be in [0, 1], not {score}"
        );
        detector.score_threshold = score;
    }
    let request = |face_size| EvalRequest {
        labelled: args.labelled.clone(),
        no_faces: args.no_faces.clone(),
        packs: packs.clone(),
        models_dir: config.models_dir.clone(),
        detector,
        face_size,
    };
    if !args.face_sizes.is_empty() {
        return face_size_sweep(&args.face_sizes, &request, args.json);
    }
    let report = evaluate(&request(None))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

/// One evaluation per face size; a table of what each size costs.
fn face_size_sweep(
    sizes: &[u32],
    request: &dyn Fn(Option<u32>) -> EvalRequest,
    json: bool,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        sizes.iter().all(|s| (8..=1000).contains(s)),
        "--face-sizes must be 8–1000 pixels each"
    );
    let mut rows = Vec::new();
    for &size in sizes {
        eprintln!("evaluating with faces of {size} px…");
        let report = evaluate(&request(Some(size)))?;
        rows.push((size, report));
    }
    if json {
        let out: Vec<serde_json::Value> = rows
            .iter()
            .map(|(size, r)| serde_json::json!({ "face_size": size, "report": r }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::UTF8_BORDERS_ONLY)
        .set_header([
            "face px",
            "pack",
            "photos with a face",
            "gate: too small",
            "rank-1",
            "FNIR at threshold",
            "strangers named",
        ]);
    for (size, r) in &rows {
        for p in &r.packs {
            let o = &p.open_set;
            table.add_row(vec![
                size.to_string(),
                p.pack.to_string(),
                format!(
                    "{} of {}",
                    p.detection.photos_with_a_face, p.detection.labelled_photos
                ),
                p.detection
                    .gate_refusals
                    .get("too_small")
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
                format!("{:.1}%", o.rank1 * 100.0),
                format!("{:.1}%", o.at_threshold.fnir * 100.0),
                format!("{} of {}", o.strangers_named, o.stranger_probes),
            ]);
        }
    }
    println!("{table}");
    Ok(())
}
