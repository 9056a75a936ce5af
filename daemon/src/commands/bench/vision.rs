//! Where the time of one recognition goes, per model pack, on one thread
//! and with two loops at once.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use facerec_vision::{
    DecodeLimits, DetectorConfig, FaceEngine, ModelFiles, PACKS, RgbImage, decode_image,
};
use image::imageops::FilterType;

use super::{Samples, table};
use crate::commands::faces::read_image;
use crate::config::Config;

struct Inputs {
    jpeg_2mp: Vec<u8>,
    photo_2mp: RgbImage,
    frame_640: RgbImage,
}

fn inputs(dir: &Path) -> anyhow::Result<Inputs> {
    // A 2-megapixel photo (1632×1224) with two faces, and a 640×480 frame
    // with five, both made from the labelled photo set.
    let couple = read_image(&dir.join("couple.jpg"))?;
    let photo_2mp = image::imageops::resize(&couple, 1632, 1224, FilterType::Triangle);
    let mut jpeg_2mp = Vec::new();
    image::DynamicImage::ImageRgb8(photo_2mp.clone()).write_to(
        &mut std::io::Cursor::new(&mut jpeg_2mp),
        image::ImageFormat::Jpeg,
    )?;
    let selfie = read_image(&dir.join("selfie-many-people.jpg"))?;
    let frame_640 = image::imageops::resize(&selfie, 640, 480, FilterType::Triangle);
    Ok(Inputs {
        jpeg_2mp,
        photo_2mp,
        frame_640,
    })
}

#[derive(Default, Clone)]
struct Measures {
    decode: Samples,
    detect_frame: Samples,
    detect_photo: Samples,
    align: Samples,
    embed: Samples,
    /// One chip embedded back to back: the embedder's weights stay in
    /// cache, as when an embedder is timed alone (onnxruntime's figure).
    embed_warm: Samples,
}

fn measure(engine: &FaceEngine, inputs: &Inputs, iterations: usize) -> anyhow::Result<Measures> {
    let mut m = Measures::default();
    let frame_cfg = DetectorConfig {
        min_face: 40.0,
        ..Default::default()
    };
    let photo_cfg = DetectorConfig {
        min_face: 40.0,
        ..Default::default()
    };
    let faces = engine.detect(&inputs.frame_640, &frame_cfg)?;
    anyhow::ensure!(!faces.is_empty(), "no face in the benchmark frame");
    for _ in 0..iterations {
        let t = Instant::now();
        decode_image(&inputs.jpeg_2mp, &DecodeLimits::default())?;
        m.decode.push(t.elapsed());
        let t = Instant::now();
        engine.detect(&inputs.frame_640, &frame_cfg)?;
        m.detect_frame.push(t.elapsed());
        let t = Instant::now();
        engine.detect(&inputs.photo_2mp, &photo_cfg)?;
        m.detect_photo.push(t.elapsed());
        for face in &faces {
            let t = Instant::now();
            let chip = engine.align(&inputs.frame_640, face);
            m.align.push(t.elapsed());
            let t = Instant::now();
            engine.embedder.embed(&chip)?;
            m.embed.push(t.elapsed());
        }
    }
    let chip = engine.align(&inputs.frame_640, &faces[0]);
    for _ in 0..iterations {
        let t = Instant::now();
        engine.embedder.embed(&chip)?;
        m.embed_warm.push(t.elapsed());
    }
    Ok(m)
}

pub fn run(config: &Config, dir: &Path, iterations: usize) -> anyhow::Result<()> {
    let inputs = Arc::new(inputs(dir)?);
    let mut t = table(&[
        "stage",
        "1 core p50 ms",
        "1 core p99 ms",
        "2 loops at once p50 ms",
        "p99 ms",
    ]);
    let row = |t: &mut comfy_table::Table, name: &str, samples: [&Samples; 2]| {
        let mut cells = vec![name.to_string()];
        for s in samples {
            cells.push(format!("{:.2}", s.percentile(50.0)));
            cells.push(format!("{:.2}", s.percentile(99.0)));
        }
        t.add_row(cells);
    };
    let mut ratio = 0.0;
    for (i, &pack) in PACKS.iter().enumerate() {
        let engine = Arc::new(
            FaceEngine::load_pack(&ModelFiles::new(&config.models_dir), pack)
                .with_context(|| format!("cannot load pack {}", pack.name))?,
        );
        // Warm-up builds the plan caches, as a running node would have them.
        measure(&engine, &inputs, 2)?;
        // One loop alone, then two at once (how throughput scales on 2 cores).
        let one = on_cores(1, || measure(&engine, &inputs, iterations))??;
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (engine, inputs) = (engine.clone(), inputs.clone());
                std::thread::spawn(move || on_cores(1, || measure(&engine, &inputs, iterations))?)
            })
            .collect();
        let mut two = Measures::default();
        for h in handles {
            let m = h.join().expect("bench thread")?;
            two.decode.0.extend(m.decode.0);
            two.detect_frame.0.extend(m.detect_frame.0);
            two.detect_photo.0.extend(m.detect_photo.0);
            two.align.0.extend(m.align.0);
            two.embed.0.extend(m.embed.0);
            two.embed_warm.0.extend(m.embed_warm.0);
        }
        if i == 0 {
            let faces = engine.detect(&inputs.frame_640, &frame_config())?.len();
            row(&mut t, "decode 2 MP JPEG", [&one.decode, &two.decode]);
            row(
                &mut t,
                &format!("detect 640×480 frame ({faces} faces, min face 40 px)"),
                [&one.detect_frame, &two.detect_frame],
            );
            row(
                &mut t,
                "detect 2 MP photo (min face 40 px)",
                [&one.detect_photo, &two.detect_photo],
            );
            ratio = one.detect_frame.percentile(50.0) / one.decode.percentile(50.0);
        }
        let chip = pack.chip.size();
        row(
            &mut t,
            &format!("{}: align one face ({chip}×{chip} chip)", pack.name),
            [&one.align, &two.align],
        );
        row(
            &mut t,
            &format!("{}: embed one face (after detecting)", pack.name),
            [&one.embed, &two.embed],
        );
        row(
            &mut t,
            &format!("{}: embed one face (back to back)", pack.name),
            [&one.embed_warm, &two.embed_warm],
        );
    }
    println!("{t}");
    println!(
        "{iterations} iterations per run; every stage is one-core work. Detecting the frame costs {ratio:.2}× decoding the 2 MP JPEG (1 core, p50).\n\
         \"after detecting\": as a recognition runs, with the detector's work between embeddings; \"back to back\": the same chip again and again, \
         the embedder's weights in cache (how scripts/onnxruntime-timing times onnxruntime)."
    );
    Ok(())
}

fn frame_config() -> DetectorConfig {
    DetectorConfig {
        min_face: 40.0,
        ..Default::default()
    }
}

/// Runs `f` on a pool of `threads` threads (vision work uses none of its
/// own; this keeps any rayon use inside bounded).
fn on_cores<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> anyhow::Result<T> {
    Ok(rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?
        .install(f))
}
