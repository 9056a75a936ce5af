//! `facerecd eval montage`: an annotated clip cut from labelled photos —
//! the case live tracking must get right and real footage rarely shows on
//! demand: hard cuts between *different* enrolled people whose faces sit
//! where the previous face was, pans, a bar passing over a face, strangers
//! between them, and an empty picture.
//!
//! People with at least three photos are enrolled from two (written to
//! `gallery/`) and shown from the others; people with a single photo are
//! the strangers. The truth (`clip/truth.csv`) comes from the layout: each
//! face's detected box in its photo, moved and scaled as the shot moves
//! it.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use facerec_vision::{BBox, DecodeLimits, DetectorConfig, ModelFiles, RgbImage, decode_image};
use image::{Rgb, imageops};

use crate::dataset::images_in;

const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;
const FPS: u32 = 10;
/// 1.5 s per shot.
const SHOT_FRAMES: usize = 15;
/// The height faces are scaled to, roughly a person 2 m from a camera.
const FACE_HEIGHT: f32 = 140.0;

pub struct MontageRequest {
    pub photos: PathBuf,
    pub out: PathBuf,
    /// How many people to enrol and show.
    pub people: usize,
    pub models_dir: PathBuf,
}

#[derive(Debug)]
pub struct Montage {
    pub gallery: PathBuf,
    pub clip: PathBuf,
    pub frames: usize,
    pub shots: usize,
    pub people: Vec<String>,
    pub strangers: Vec<String>,
}

/// One photo shown for a shot.
struct Shot {
    who: Option<String>,
    image: RgbImage,
    face: BBox,
}

pub fn build(request: &MontageRequest) -> anyhow::Result<Montage> {
    let detector =
        facerec_vision::Engines::new(ModelFiles::new(request.models_dir.clone())).detector()?;
    let config = DetectorConfig::default();
    let limits = DecodeLimits::default();
    // The one clear face of a photo, if it has exactly one.
    let single_face = |path: &Path| -> anyhow::Result<Option<(RgbImage, BBox)>> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let image = decode_image(&bytes, &limits).with_context(|| path.display().to_string())?;
        let faces = detector.detect(&image, &config)?;
        Ok(match &faces[..] {
            [f] if f.bbox.height() >= 60.0 && f.score >= 0.9 => Some((image, f.bbox)),
            _ => None,
        })
    };
    let mut folders: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for entry in std::fs::read_dir(&request.photos)
        .with_context(|| format!("cannot read the folder {}", request.photos.display()))?
    {
        let path = entry?.path();
        if path.is_dir() {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            folders.push((name, images_in(&path)?));
        }
    }
    folders.sort();
    let gallery = request.out.join("gallery");
    let clip = request.out.join("clip");
    std::fs::create_dir_all(&gallery)?;
    std::fs::create_dir_all(&clip)?;

    let (mut people, mut first_shots, mut second_shots) = (vec![], vec![], vec![]);
    for (name, photos) in folders.iter().filter(|(_, p)| p.len() >= 3) {
        if people.len() == request.people {
            break;
        }
        let mut usable = Vec::new();
        for p in photos {
            if let Some(found) = single_face(p)? {
                usable.push((p, found));
            }
            if usable.len() == 4 {
                break;
            }
        }
        if usable.len() < 3 {
            continue;
        }
        let dir = gallery.join(name);
        std::fs::create_dir_all(&dir)?;
        for (p, _) in &usable[..2] {
            std::fs::copy(p, dir.join(p.file_name().unwrap_or_default()))?;
        }
        let mut shown = usable.into_iter().skip(2).map(|(_, (image, face))| Shot {
            who: Some(name.clone()),
            image,
            face,
        });
        first_shots.extend(shown.next());
        second_shots.extend(shown.next());
        people.push(name.clone());
    }
    if people.len() < 2 {
        bail!(
            "{} has fewer than two people with three photos of one clear face",
            request.photos.display()
        );
    }
    let mut strangers = Vec::new();
    let mut stranger_shots = Vec::new();
    for (name, photos) in folders.iter().filter(|(_, p)| p.len() == 1) {
        if stranger_shots.len() == 2 {
            break;
        }
        if let Some((image, face)) = single_face(&photos[0])? {
            stranger_shots.push(Shot {
                who: None,
                image,
                face,
            });
            strangers.push(name.clone());
        }
    }
    // Each person's first photo, a stranger, an empty picture, each
    // person's second photo, the other stranger: no person twice in a row.
    let mut shots: Vec<Option<Shot>> = first_shots.into_iter().map(Some).collect();
    let mut strangers_left = stranger_shots.into_iter();
    shots.insert(shots.len() / 2, strangers_left.next());
    shots.push(None);
    shots.extend(second_shots.into_iter().map(Some));
    shots.extend(strangers_left.map(Some));

    let mut truth = format!("# fps={FPS}\nfrom,to,person,x1,y1,x2,y2\n");
    let mut n = 0usize;
    for (k, shot) in shots.iter().enumerate() {
        for i in 0..SHOT_FRAMES {
            let (frame, face) = match shot {
                Some(s) => render(s, k, i),
                None => (RgbImage::from_pixel(WIDTH, HEIGHT, Rgb([60, 64, 70])), None),
            };
            frame
                .save(clip.join(format!("frame{n:04}.jpg")))
                .context("cannot write a frame")?;
            if let (Some(s), Some(b)) = (shot, face) {
                // A margin around the box: the detector's box of the frame
                // need only have its centre inside.
                let (mx, my) = (0.25 * b.width(), 0.25 * b.height());
                truth.push_str(&format!(
                    "{n},{n},{},{:.0},{:.0},{:.0},{:.0}\n",
                    s.who.as_deref().unwrap_or("-"),
                    b.x1 - mx,
                    b.y1 - my,
                    b.x2 + mx,
                    b.y2 + my
                ));
            }
            n += 1;
        }
    }
    std::fs::write(clip.join("truth.csv"), truth)?;
    Ok(Montage {
        gallery,
        clip,
        frames: n,
        shots: shots.len(),
        people,
        strangers,
    })
}

/// Frame `i` of shot `k`: the photo scaled so its face is `FACE_HEIGHT`
/// tall, the face near the centre, panning 4 px per frame; every other
/// shot, a dark bar passes over the face in frames 6–9. Returns the frame
/// and the face's box in it (None once the face has left the frame).
fn render(shot: &Shot, k: usize, i: usize) -> (RgbImage, Option<BBox>) {
    let scale = (FACE_HEIGHT / shot.face.height()).clamp(0.2, 4.0);
    let (w, h) = (
        (shot.image.width() as f32 * scale).round().max(1.0) as u32,
        (shot.image.height() as f32 * scale).round().max(1.0) as u32,
    );
    let scaled = imageops::resize(&shot.image, w, h, imageops::FilterType::Triangle);
    let pan = -28.0 + 4.0 * i as f32;
    let (cx, cy) = (
        (shot.face.x1 + shot.face.x2) / 2.0 * scale,
        (shot.face.y1 + shot.face.y2) / 2.0 * scale,
    );
    let (ox, oy) = (
        (WIDTH as f32 / 2.0 - cx + pan).round(),
        (HEIGHT as f32 / 2.0 - 10.0 - cy).round(),
    );
    let mut frame = RgbImage::from_pixel(WIDTH, HEIGHT, Rgb([60, 64, 70]));
    imageops::overlay(&mut frame, &scaled, ox as i64, oy as i64);
    let face = BBox {
        x1: shot.face.x1 * scale + ox,
        y1: shot.face.y1 * scale + oy,
        x2: shot.face.x2 * scale + ox,
        y2: shot.face.y2 * scale + oy,
    };
    if k % 2 == 1 && (6..10).contains(&i) {
        let bar = (0.8 * face.width()) as i64;
        let x = face.x1 as i64 - bar + (i as i64 - 6) * (face.width() as i64 + bar) / 3;
        for y in 0..HEIGHT {
            for dx in 0..bar {
                let px = x + dx;
                if (0..WIDTH as i64).contains(&px) {
                    frame.put_pixel(px as u32, y, Rgb([20, 20, 24]));
                }
            }
        }
    }
    (frame, Some(face))
}
