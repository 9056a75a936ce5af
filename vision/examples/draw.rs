//! Draws detected boxes and landmarks on a photo: `cargo run -p facerec-vision --example draw IN OUT.png`.
use facerec_vision::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bytes = std::fs::read(&args[1]).unwrap();
    let mut img = decode_image(&bytes, &DecodeLimits::default()).unwrap();
    let engine = FaceEngine::load(&ModelFiles::new(default_models_dir())).unwrap();
    let faces = engine.detect(&img, &DetectorConfig::default()).unwrap();
    println!("{} faces", faces.len());
    for f in &faces {
        println!("{:?} {:.3}", f.bbox, f.score);
        let b = f.bbox;
        for x in b.x1 as u32..b.x2.min(img.width() as f32 - 1.0) as u32 {
            for y in [b.y1 as u32, (b.y2 as u32).min(img.height() - 1)] {
                img.put_pixel(x, y, image::Rgb([255, 0, 0]));
            }
        }
        for y in b.y1 as u32..b.y2.min(img.height() as f32 - 1.0) as u32 {
            for x in [b.x1 as u32, (b.x2 as u32).min(img.width() - 1)] {
                img.put_pixel(x, y, image::Rgb([255, 0, 0]));
            }
        }
        for p in f.landmarks {
            for dx in 0..3 {
                for dy in 0..3 {
                    let (x, y) = (p[0] as u32 + dx, p[1] as u32 + dy);
                    if x < img.width() && y < img.height() {
                        img.put_pixel(x, y, image::Rgb([0, 255, 0]));
                    }
                }
            }
        }
    }
    img.save(&args[2]).unwrap();
}
