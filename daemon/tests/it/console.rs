//! The hub's review console driven end to end by headless Chromium: sign
//! in, create a domain, upload the sample photos, process them, see the
//! crops, approve one person and reject another (by keyboard), take a face
//! away ("not this person"), publish, and see an edge apply the batch —
//! and a Greek token seeing none of it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use reqwest::Method;
use serde_json::Value;

use crate::common::*;
use crate::sync_fixtures::{Broker, BrokerKind, Edge, hub_public_key};

/// Long enough for a busy 2-core machine to process a few photos.
const WAIT: Duration = Duration::from_secs(120);

struct Console {
    _browser: Browser,
    tab: Arc<Tab>,
    base: String,
}

impl Console {
    fn open(chromium: &str, base: &str) -> Self {
        let options = LaunchOptions::default_builder()
            .path(Some(PathBuf::from(chromium)))
            .sandbox(false)
            .window_size(Some((1280, 1000)))
            .idle_browser_timeout(Duration::from_secs(600))
            .args(vec![std::ffi::OsStr::new("--disable-dev-shm-usage")])
            .build()
            .unwrap();
        let browser = Browser::new(options).expect("chromium starts");
        let tab = browser.new_tab().unwrap();
        tab.set_default_timeout(WAIT);
        Self {
            _browser: browser,
            tab,
            base: base.to_string(),
        }
    }

    /// Loads the console's page.
    fn load(&self) {
        self.tab
            .navigate_to(&format!("{}/", self.base))
            .unwrap()
            .wait_until_navigated()
            .unwrap();
    }

    /// Moves to a page of the loaded console (a hash change loads nothing,
    /// so there is no navigation to wait for: callers wait for content).
    fn go(&self, hash: &str) {
        self.run(&format!("location.hash = {hash:?}"));
    }

    /// The JSON value of a page expression.
    fn js(&self, expression: &str) -> Value {
        let wrapped = format!("JSON.stringify((() => {{ return {expression}; }})() ?? null)");
        let result = self.tab.evaluate(&wrapped, false).unwrap();
        let text = result.value.and_then(|v| v.as_str().map(str::to_string));
        serde_json::from_str(&text.unwrap_or_else(|| "null".into())).unwrap()
    }

    fn run(&self, statement: &str) {
        self.tab
            .evaluate(&format!("(() => {{ {statement}; }})()"), false)
            .unwrap();
    }

    /// Waits until `condition` (a page expression) is true.
    fn wait(&self, what: &str, condition: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            if self.js(condition) == Value::Bool(true) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "the console never showed {what} ({condition}); toasts: {}; page: {}",
                    self.js("document.getElementById('toast').innerText"),
                    self.js("document.getElementById('main').innerText")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn click(&self, selector: &str) {
        self.wait(
            &format!("a clickable {selector}"),
            &format!("!!document.querySelector({selector:?}) && !document.querySelector({selector:?}).disabled"),
        );
        self.run(&format!("document.querySelector({selector:?}).click()"));
    }

    fn fill(&self, selector: &str, value: &str) {
        self.wait(selector, &format!("!!document.querySelector({selector:?})"));
        self.run(&format!(
            "const e = document.querySelector({selector:?}); e.value = {value:?}; e.dispatchEvent(new Event('input'))"
        ));
    }

    fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .tab
            .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
            .unwrap();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        eprintln!("console screenshot: {}", path.display());
        path
    }

    fn sign_in(&self, token: &str) {
        self.go("#/login");
        self.fill("#token", token);
        self.click("#sign-in");
        self.wait("the domain list", "!!document.querySelector('#domains')");
    }

    fn upload(&self, person: &str, name: &str, files: &[&str]) {
        let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/faces");
        let paths: Vec<String> = files
            .iter()
            // Chromium reads only a normalised absolute path.
            .map(|f| {
                samples
                    .join(f)
                    .canonicalize()
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        self.fill("#u-person", person);
        self.fill("#u-name", name);
        let input = self.tab.wait_for_element("#u-files").unwrap();
        input
            .set_input_files(&paths.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap();
        assert_eq!(
            self.js("document.querySelector('#u-files').files.length"),
            files.len()
        );
        self.click("#upload-files");
        self.wait(
            &format!("the upload of {person}"),
            &format!(
                "document.getElementById('upload-result').innerText.startsWith('{} added for {person}')",
                files.len()
            ),
        );
    }
}

fn section(person: &str) -> String {
    format!("section.person[data-person=\"{person}\"]")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_reviews_and_publishes_end_to_end() {
    let Some(chromium) = chromium("the review console test") else {
        return;
    };
    let broker = Broker::start(BrokerKind::Embedded);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), None, &[]);
    cfg.mqtt_overrides.broker = Some(broker.url());
    cfg.mqtt_overrides.device_id = Some("hub-console".into());
    let hub = Node::start(&cfg, facerec_node::Role::Hub).await;
    assert_eq!(hub.create("greece").await.status(), 201);
    // An edge that knows only its domain, the broker and the hub's key:
    // it waits for the domain the console is about to create.
    let key = hub_public_key(&hub).await;
    let edge_dir = tempfile::tempdir().unwrap();
    let mut edge = Edge::new(edge_dir.path(), &broker, &key, "edge-console");
    edge.domains_file = false;
    let edge_starting = tokio::task::spawn_blocking(move || {
        edge.start();
        edge
    });

    let base = hub.base.clone();
    let chromium = chromium.to_string();
    let console = tokio::task::spawn_blocking(move || {
        let console = Console::open(&chromium, &base);
        // An edge node's `/` is its live view; a hub's is the console.
        console.load();
        console.wait("the sign-in page", "!!document.querySelector('#token')");
        console.sign_in(ADMIN);

        // A domain, with the API's validation message next to its field.
        console.click("#new-domain");
        console.fill("#f-domain_code", "Serbia!");
        console.click("#save-domain");
        console.wait(
            "the code's validation message",
            "document.querySelector('[data-for=domain_code]').innerText.includes('invalid domain code')",
        );
        console.fill("#f-domain_code", "serbia");
        console.fill("#f-display_name", "Serbia");
        console.click("#save-domain");
        console.wait("the review page", "location.hash === '#/d/serbia/review'");
        console
    })
    .await
    .unwrap();
    let mut edge = edge_starting.await.unwrap();

    let console = tokio::task::spawn_blocking(move || {
        // Settings: a CSV source and a filter; then the candidates they give.
        console.go("#/d/serbia/edit");
        console.wait("the settings form", "!!document.querySelector('#f-plugins')");
        console.fill("#f-filter", "sitelinks >= 50");
        let plugins = serde_json::json!({"sources": [{"name": "csv-source", "config": {"csv":
            "name,wikidata_id,country,occupations,sitelinks\nAna Famous,Q100,RS,actor,120\nIvo Obscure,Q200,RS,actor,3\n"}}],
            "filters": [], "http_allowlist": []});
        console.fill("#f-plugins", &plugins.to_string());
        console.click("#save-domain");
        console.wait("the saved settings", "document.getElementById('toast').innerText.includes('Saved')");
        console.go("#/d/serbia/candidates");
        console.click("#run-candidates");
        console.wait(
            "one kept, one dropped by the filter",
            "document.querySelectorAll('#kept tbody tr').length === 1 && \
             document.querySelector('#kept tbody').innerText.includes('Ana Famous') && \
             document.querySelector('#dropped tbody').innerText.includes('Ivo Obscure')",
        );
        console.go("#/d/serbia/review");
        console.upload("person_05", "Person Five", &["img16.jpg", "img17.jpg", "img61.jpg"]);
        console.upload("person_03", "Person Three", &["img50.jpg", "img51.jpg"]);
        console.click("#process");
        console.wait(
            "both people staged",
            &format!(
                "!!document.querySelector('{}') && !!document.querySelector('{}')",
                section("person_05"),
                section("person_03")
            ),
        );
        // The crops are real pictures, fetched with the token.
        console.wait(
            "every crop loaded",
            "[...document.querySelectorAll('figure.face img')].length === 5 && \
             [...document.querySelectorAll('figure.face img')].every(i => i.complete && i.naturalWidth === 112)",
        );
        console.screenshot("review.png");

        // Approve person_05 by ticking it from the keyboard (j: next
        // person, x: tick) and approving the ticked people…
        console.wait(
            "the first person focused",
            "document.querySelector('section.person').classList.contains('focused')",
        );
        let ticked = format!("document.querySelector('{} input.pick').checked", section("person_05"));
        while console.js(&format!("document.querySelector('{}').classList.contains('focused')", section("person_05"))) != Value::Bool(true) {
            console.tab.press_key("j").unwrap();
        }
        console.tab.press_key("x").unwrap();
        console.wait("person_05 ticked", &ticked);
        console.click("#approve-ticked");
        console.wait(
            "person_05 approved",
            &format!("!document.querySelector('{}')", section("person_05")),
        );
        // …and reject person_03 with the keyboard (now the focused person).
        console.wait(
            "person_03 focused",
            &format!("document.querySelector('{}').classList.contains('focused')", section("person_03")),
        );
        console.tab.press_key("r").unwrap();
        console.wait(
            "nothing left to review",
            "!!document.querySelector('#nothing-staged')",
        );

        // A face that is not person_05: taken away before publishing.
        console.go("#/d/serbia/people");
        console.fill("#people-q", "five");
        console.wait(
            "person_05 found by name",
            "!!document.querySelector('#people tr[data-person=person_05]') && \
             !document.querySelector('#people tr[data-person=person_03]')",
        );
        console.click("#people tr[data-person=person_05] a");
        console.wait(
            "person_05's three faces",
            "document.querySelectorAll('#person figure.face img').length === 3",
        );
        console.click("#person .not-this-person");
        console.wait("the confirmation", "document.getElementById('dialog').open");
        assert!(
            console
                .js("document.getElementById('dialog').innerText")
                .as_str()
                .unwrap()
                .contains("every edge of serbia"),
        );
        console.click("#confirm");
        console.wait(
            "two faces left",
            "document.querySelectorAll('#person figure.face').length === 2",
        );

        // Publish, and watch the edge apply it.
        console.go("#/d/serbia/publish");
        console.click("#build-batch");
        console.wait(
            "the batch manifest",
            "document.getElementById('manifest').innerText.includes('\"descriptors\": 2')",
        );
        console.wait(
            "the edge at seq 1",
            "document.querySelector('#edges tr[data-edge=edge-console]')?.dataset.applied === '1' && \
             document.querySelector('#edges tr[data-edge=edge-console]').innerText.includes('current')",
        );
        console.screenshot("publish.png");

        // A Greek token: greece only, and nothing of Serbia's pages.
        console.run("sessionStorage.clear()");
        console.sign_in(GREECE);
        assert!(
            console.js("!!document.querySelector('#domains tr[data-domain=greece]') && !document.querySelector('#domains tr[data-domain=serbia]')")
                == Value::Bool(true),
            "{}",
            console.js("document.getElementById('main').innerText")
        );
        console.go("#/d/serbia/people");
        console.wait(
            "the refusal",
            "document.getElementById('toast').innerText.includes('serbia')",
        );
        assert_eq!(console.js("document.querySelectorAll('#people tr').length"), 0);
        console
    })
    .await
    .unwrap();
    drop(console);

    // The edge holds what the console published: person_05's two faces.
    let status = edge.get("/api/sync").await.expect("edge status");
    let serbia = status["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["domain"] == "serbia")
        .unwrap()
        .clone();
    assert_eq!(serbia["applied_seq"], 1, "{status}");
    assert_eq!(serbia["descriptors"], 2, "{status}");
    // An edge has no console: its `/` is the live view.
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/", edge.http))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/live");
    edge.stop();
    hub.stop().await;
}

/// Faces, photos, jobs and people of one domain are not another's to see.
#[tokio::test]
async fn pictures_and_jobs_are_served_only_to_their_domain() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Node::hub(dir.path()).await;
    hub.create("serbia").await;
    hub.create("greece").await;
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/faces");
    let bytes = std::fs::read(samples.join("img16.jpg")).unwrap();
    let form = reqwest::multipart::Form::new()
        .text("domain", "serbia")
        .text("person", "person_05")
        .part(
            "files",
            reqwest::multipart::Part::bytes(bytes).file_name("img16.jpg"),
        );
    let upload = json(
        hub.req(Method::POST, "/api/training/images", Some(SERBIA))
            .multipart(form)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let image = upload["files"][0]["image_id"].as_u64().unwrap();
    let job = json(
        hub.post_json(
            "/api/training/process",
            SERBIA,
            serde_json::json!({"domain": "serbia"}),
        )
        .await,
        202,
    )
    .await;
    let job_id = job["id"].as_u64().unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let j = json(hub.get(&format!("/api/jobs/{job_id}"), SERBIA).await, 200).await;
        if j["state"] != "running" {
            break;
        }
        assert!(Instant::now() < deadline, "the job never finished: {j}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Serbia's token gets the crop and the photo, never cached by others.
    for (path, mime) in [("face", "image/png"), ("photo", "image/jpeg")] {
        let resp = hub
            .get(
                &format!("/api/domains/serbia/images/{image}/{path}"),
                SERBIA,
            )
            .await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()["content-type"], mime);
        assert_eq!(resp.headers()["cache-control"], "private, no-store");
        assert!(!resp.bytes().await.unwrap().is_empty());
    }
    let jobs = json(hub.get("/api/jobs?domain=serbia", SERBIA).await, 200).await;
    assert_eq!(jobs[0]["id"], job_id);

    // Greece's token gets none of it.
    for path in [
        format!("/api/domains/serbia/images/{image}/face"),
        format!("/api/domains/serbia/images/{image}/photo"),
        "/api/domains/serbia/people".to_string(),
        "/api/domains/serbia/people/person_05/faces".to_string(),
        "/api/training/staging?domain=serbia".to_string(),
        "/api/jobs?domain=serbia".to_string(),
    ] {
        problem(hub.get(&path, GREECE).await, 403).await;
    }
    problem(hub.get(&format!("/api/jobs/{job_id}"), GREECE).await, 404).await;
    let resp = hub
        .req(
            Method::DELETE,
            &format!("/api/domains/serbia/people/person_05/faces/{image}"),
            Some(GREECE),
        )
        .send()
        .await
        .unwrap();
    problem(resp, 403).await;
    // Nor can it reach a Serbian picture through its own domain's path.
    problem(
        hub.get(&format!("/api/domains/greece/images/{image}/face"), GREECE)
            .await,
        404,
    )
    .await;
    hub.stop().await;
}
