//! Where the time of one recognition goes, on one and on two threads.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use facerec_vision::{
    DecodeLimits, DetectorConfig, FaceEngine, RgbImage, align_face, decode_image,
};
use image::imageops::FilterType;

use super::{Samples, table};
use crate::commands::faces::{load_engine, read_image};
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
            let chip = align_face(&inputs.frame_640, face);
            m.align.push(t.elapsed());
            let t = Instant::now();
            engine.embedder.embed(&chip)?;
            m.embed.push(t.elapsed());
        }
    }
    Ok(m)
}

/// Runs `f` with detection's parallel work confined to `threads` cores.
fn on_cores<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> anyhow::Result<T> {
    Ok(rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?
        .install(f))
}

pub fn run(config: &Config, dir: &Path, iterations: usize) -> anyhow::Result<()> {
    let engine = Arc::new(load_engine(config)?);
    let inputs = Arc::new(inputs(dir)?);
    let faces_in_frame = engine
        .detect(
            &inputs.frame_640,
            &DetectorConfig {
                min_face: 40.0,
                ..Default::default()
            },
        )?
        .len();
    // Warm-up builds the plan caches, as a running node would have them.
    measure(&engine, &inputs, 2)?;

    // One core; then one image at a time spread over both cores (how a
    // single camera or request gets its answer sooner); then two loops at
    // once, one core each (how throughput scales).
    let one = on_cores(1, || measure(&engine, &inputs, iterations))??;
    let spread = on_cores(2, || measure(&engine, &inputs, iterations))??;
    let wall = Instant::now();
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
    }
    let two_wall = wall.elapsed().as_secs_f64();

    let mut t = table(&[
        "stage",
        "1 core p50 ms",
        "1 core p99 ms",
        "2 cores, one image p50 ms",
        "p99 ms",
        "2 loops at once p50 ms",
        "p99 ms",
    ]);
    let runs = [&one, &spread, &two];
    let row = |t: &mut comfy_table::Table, name: &str, stage: fn(&Measures) -> &Samples| {
        let mut cells = vec![name.to_string()];
        for m in runs {
            cells.push(format!("{:.2}", stage(m).percentile(50.0)));
            cells.push(format!("{:.2}", stage(m).percentile(99.0)));
        }
        t.add_row(cells);
    };
    row(&mut t, "decode 2 MP JPEG", |m| &m.decode);
    row(
        &mut t,
        &format!("detect 640×480 frame ({faces_in_frame} faces, min face 40 px)"),
        |m| &m.detect_frame,
    );
    row(&mut t, "detect 2 MP photo (min face 40 px)", |m| {
        &m.detect_photo
    });
    row(&mut t, "align one face (150×150 chip)", |m| &m.align);
    row(&mut t, "embed one face (dlib ResNet)", |m| &m.embed);
    println!("{t}");
    println!(
        "{iterations} iterations per run. Decoding, alignment and embedding are one-core work in every column; detection spreads its pyramid levels and crops over the cores it is given ({:.1} s wall for the two loops).",
        two_wall
    );
    Ok(())
}
