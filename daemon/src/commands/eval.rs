//! `facerecd eval`: the command around [`crate::eval`].

use facerec_vision::{DetectorConfig, ModelPack, PACKS};

use crate::cli::EvalArgs;
use crate::config::Config;
use crate::eval::{EvalRequest, print_table, run as evaluate};

pub fn run(config: &Config, args: &EvalArgs) -> anyhow::Result<()> {
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
    let report = evaluate(&EvalRequest {
        labelled: args.labelled.clone(),
        no_faces: args.no_faces.clone(),
        packs,
        models_dir: config.models_dir.clone(),
        detector,
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}
