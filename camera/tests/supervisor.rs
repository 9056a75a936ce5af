//! A supervised MJPEG-over-HTTP camera that drops its connection and then
//! stalls is reopened each time, and frames keep coming.

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use facerec_camera::supervisor::{self, SupervisorOptions};
use facerec_camera::{SourceSpec, SourceState};
use image::{ImageFormat, RgbImage};

fn jpeg(shade: u8) -> Vec<u8> {
    let img = RgbImage::from_pixel(64, 48, image::Rgb([shade, shade, shade]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// Serves connection 1: three frames, then closes; connection 2: two
/// frames, then goes silent for 3 s; connection 3 on: a frame every 20 ms.
fn flaky_camera() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut request = [0u8; 1024];
                let _ = std::io::Read::read(&mut stream, &mut request);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n",
                );
                let send = |stream: &mut std::net::TcpStream, shade: u8| {
                    let f = jpeg(shade);
                    let head = format!(
                        "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                        f.len()
                    );
                    stream.write_all(head.as_bytes())?;
                    stream.write_all(&f)?;
                    stream.write_all(b"\r\n")
                };
                match n {
                    0 => (0..3).for_each(|_| {
                        let _ = send(&mut stream, 10);
                    }),
                    1 => {
                        (0..2).for_each(|_| {
                            let _ = send(&mut stream, 20);
                        });
                        std::thread::sleep(Duration::from_secs(3));
                    }
                    _ => {
                        for _ in 0..500 {
                            if send(&mut stream, 200).is_err() {
                                return;
                            }
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            });
        }
    });
    format!("http://{addr}/video.mjpg")
}

#[test]
fn a_camera_that_disconnects_and_stalls_is_reopened_and_keeps_delivering() {
    let url = flaky_camera();
    let feed = supervisor::spawn(
        "door",
        SourceSpec::MjpegHttp {
            url,
            timeout_ms: 400,
        },
        SupervisorOptions {
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_millis(200),
            ..Default::default()
        },
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let frame = feed.frames.borrow().clone();
        if let Some(f) = frame
            && f.image.get_pixel(0, 0).0[0] > 150
            && feed.status().frames >= 10
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no frames from the third connection: {:?}",
            feed.status()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = feed.status();
    assert_eq!(status.state, SourceState::Running);
    assert!(status.restarts >= 2, "{status:?}");
    assert_eq!(status.errors.get("disconnected"), Some(&1), "{status:?}");
    assert_eq!(status.errors.get("stalled"), Some(&1), "{status:?}");
    assert!(status.description.unwrap().contains("video.mjpg"));
    // Frame numbers only grow, across reconnects.
    let a = feed.frames.borrow().as_ref().unwrap().seq;
    std::thread::sleep(Duration::from_millis(200));
    assert!(feed.frames.borrow().as_ref().unwrap().seq > a);
}

#[test]
fn a_camera_that_cannot_be_opened_is_retried_and_reported() {
    // Nothing listens on this port.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let feed = supervisor::spawn(
        "gone",
        SourceSpec::MjpegHttp {
            url: format!("http://127.0.0.1:{port}/x"),
            timeout_ms: 300,
        },
        SupervisorOptions {
            backoff_min: Duration::from_millis(20),
            backoff_max: Duration::from_millis(40),
            ..Default::default()
        },
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while feed.status().errors.get("open").copied().unwrap_or(0) < 3 {
        assert!(Instant::now() < deadline, "{:?}", feed.status());
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = feed.status();
    assert_eq!(status.frames, 0);
    assert!(
        status
            .last_error
            .unwrap()
            .contains(&format!("127.0.0.1:{port}"))
    );
    feed.stop();
    let deadline = Instant::now() + Duration::from_secs(5);
    while feed.status().state != SourceState::Stopped {
        assert!(Instant::now() < deadline, "the thread did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}
