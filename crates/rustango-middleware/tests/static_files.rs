//! `StaticFiles` mounted in a router, via the in-process test client, over real files
//! in a temporary directory.
#![cfg(feature = "static-files")]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rustango_http::test_client::{TestClient, TestResponse};
use rustango_middleware::prelude::*;
use rustango_middleware::static_files::StaticFiles;

const SECRET: &str = "TOP-SECRET-outside-the-static-dir";

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "rustango-static-files-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.0.join(relative)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `root/secret.txt` next to the served `root/public/…`.
fn site() -> TempDir {
    let root = TempDir::new();
    root.write("secret.txt", SECRET);
    root.write(".env", SECRET);
    root.write("public/app.js", "console.log('app')");
    root.write("public/app.3f2a9c1b.js", "console.log('hashed')");
    root.write("public/css/site-0f1e2d3c4b5a.css", "body{}");
    root.write("public/css/site.css", "body { color: red }");
    root.write(
        "public/logo.svg",
        "<svg xmlns='http://www.w3.org/2000/svg'/>",
    );
    root.write("public/data.json", "{}");
    root.write("public/font.woff2", [0u8, 1, 2, 3]);
    root.write("public/blob.unknownext", "???");
    root.write("public/docs/index.html", "<h1>docs</h1>");
    root.write("public/.env", SECRET);
    root.write(
        "public/.well-known/security.txt",
        "Contact: sec@example.com",
    );
    root
}

fn client(files: StaticFiles) -> TestClient {
    TestClient::new(
        Router::new()
            .route("/", get(|| async { "home" }))
            .static_files("/static", files),
    )
}

fn public(root: &TempDir) -> StaticFiles {
    StaticFiles::new(root.path("public"))
}

fn assert_not_found(response: &TestResponse, path: &str) {
    assert_eq!(response.status, 404, "{path}: {}", response.text());
    let problem = response.problem();
    assert_eq!(problem.status(), 404);
    assert_eq!(problem.instance(), Some(path));
}

#[tokio::test]
async fn content_types_and_bodies() {
    let root = site();
    let client = client(public(&root));
    for (path, content_type, body) in [
        ("/static/app.js", "text/javascript", "console.log('app')"),
        ("/static/css/site.css", "text/css", "body { color: red }"),
        (
            "/static/logo.svg",
            "image/svg+xml",
            "<svg xmlns='http://www.w3.org/2000/svg'/>",
        ),
        ("/static/data.json", "application/json", "{}"),
        ("/static/blob.unknownext", "application/octet-stream", "???"),
    ] {
        let response = client.get(path).send().await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(
            response.header("content-type"),
            Some(content_type),
            "{path}"
        );
        assert_eq!(response.text(), body, "{path}");
        assert_eq!(
            response.header("content-length"),
            Some(body.len().to_string().as_str())
        );
    }
    let font = client.get("/static/font.woff2").send().await;
    assert_eq!(font.header("content-type"), Some("font/woff2"));
    assert_eq!(&font.body[..], &[0, 1, 2, 3]);
    // The router's own routes are untouched.
    assert_eq!(client.get("/").send().await.text(), "home");
}

#[tokio::test]
async fn cache_control_plain_and_fingerprinted() {
    let root = site();
    let client = client(public(&root));
    let plain = client.get("/static/app.js").send().await;
    assert_eq!(plain.header("cache-control"), Some("public, max-age=3600"));
    for hashed in [
        "/static/app.3f2a9c1b.js",
        "/static/css/site-0f1e2d3c4b5a.css",
    ] {
        let response = client.get(hashed).send().await;
        assert_eq!(response.status, 200, "{hashed}");
        assert_eq!(
            response.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{hashed}"
        );
    }

    let custom = self::client(public(&root).max_age(Duration::from_secs(86_400)));
    let response = custom.get("/static/app.js").send().await;
    assert_eq!(
        response.header("cache-control"),
        Some("public, max-age=86400")
    );

    let revalidate = self::client(
        public(&root)
            .max_age(Duration::ZERO)
            .immutable_fingerprinted(false),
    );
    for path in ["/static/app.js", "/static/app.3f2a9c1b.js"] {
        let response = revalidate.get(path).send().await;
        assert_eq!(response.header("cache-control"), Some("no-cache"), "{path}");
    }
}

#[tokio::test]
async fn validators_and_not_modified() {
    let root = site();
    let client = client(public(&root));
    let first = client.get("/static/app.js").send().await;
    let last_modified = first.header("last-modified").unwrap().to_owned();
    let etag = first.header("etag").unwrap().to_owned();
    assert!(etag.starts_with('"'), "a strong tag: {etag}");

    let since = client
        .get("/static/app.js")
        .header("if-modified-since", last_modified.as_str())
        .send()
        .await;
    assert_eq!(since.status, 304);
    assert!(since.body.is_empty());
    assert_eq!(since.header("cache-control"), Some("public, max-age=3600"));
    assert_eq!(since.header("last-modified"), Some(last_modified.as_str()));

    let stale = client
        .get("/static/app.js")
        .header("if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT")
        .send()
        .await;
    assert_eq!(stale.status, 200);
    assert_eq!(stale.text(), "console.log('app')");

    let matched = client
        .get("/static/app.3f2a9c1b.js")
        .send()
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let revalidated = client
        .get("/static/app.3f2a9c1b.js")
        .header("if-none-match", matched.as_str())
        .send()
        .await;
    assert_eq!(revalidated.status, 304);
    assert_eq!(
        revalidated.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(revalidated.header("etag"), Some(matched.as_str()));

    // `If-None-Match` wins over `If-Modified-Since` (RFC 9110 §13.2.2).
    let other_tag = client
        .get("/static/app.js")
        .header("if-none-match", "\"something-else\"")
        .header("if-modified-since", last_modified.as_str())
        .send()
        .await;
    assert_eq!(other_tag.status, 200);

    // A failed `If-Match` is a 412 problem.
    let failed = client
        .get("/static/app.js")
        .header("if-match", "\"something-else\"")
        .send()
        .await;
    assert_eq!(failed.status, 412);
    assert_eq!(failed.problem().status(), 412);
    let _ = etag;
}

#[tokio::test]
async fn precompressed_variants() {
    let root = site();
    // The bytes need not be real gzip/brotli: the file is sent as it is.
    root.write("public/app.js.gz", "GZIP-BYTES");
    root.write("public/app.js.br", "BROTLI-BYTES");
    root.write("public/css/site.css.gz", "CSS-GZIP");
    let client = client(public(&root).precompressed());

    let gzip = client
        .get("/static/app.js")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(gzip.status, 200);
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert_eq!(gzip.text(), "GZIP-BYTES");
    assert_eq!(gzip.header("content-type"), Some("text/javascript"));
    assert_eq!(gzip.header("vary"), Some("accept-encoding"));
    assert_eq!(gzip.header("cache-control"), Some("public, max-age=3600"));

    let br = client
        .get("/static/app.js")
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await;
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(br.text(), "BROTLI-BYTES");

    // Only gzip exists for this one.
    let css = client
        .get("/static/css/site.css")
        .header("accept-encoding", "br, gzip")
        .send()
        .await;
    assert_eq!(css.header("content-encoding"), Some("gzip"));
    assert_eq!(css.text(), "CSS-GZIP");

    // No variant, or a client that accepts none: the file itself.
    let identity = client.get("/static/app.js").send().await;
    assert_eq!(identity.header("content-encoding"), None);
    assert_eq!(identity.text(), "console.log('app')");
    assert_eq!(identity.header("vary"), Some("accept-encoding"));
    let refused = client
        .get("/static/app.js")
        .header("accept-encoding", "gzip;q=0")
        .send()
        .await;
    assert_eq!(refused.header("content-encoding"), None);
    let no_variant = client
        .get("/static/data.json")
        .header("accept-encoding", "gzip, br")
        .send()
        .await;
    assert_eq!(no_variant.header("content-encoding"), None);
    assert_eq!(no_variant.text(), "{}");

    // Without `precompressed()` the variants are ignored.
    let plain = self::client(public(&root));
    let response = plain
        .get("/static/app.js")
        .header("accept-encoding", "gzip, br")
        .send()
        .await;
    assert_eq!(response.header("content-encoding"), None);
    assert_eq!(response.text(), "console.log('app')");
}

#[tokio::test]
async fn traversal_never_escapes() {
    let root = site();
    let client = client(public(&root));
    // Sanity: the secret exists where a naive join would find it.
    assert_eq!(
        std::fs::read_to_string(root.path("public/../secret.txt")).unwrap(),
        SECRET
    );
    for attempt in [
        "/static/../secret.txt",
        "/static/css/../../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E/secret.txt",
        "/static/%2e%2e%2fsecret.txt",
        "/static/..%2fsecret.txt",
        "/static/..%5csecret.txt",
        "/static/css/..%5c..%5csecret.txt",
        "/static/%252e%252e/secret.txt",
        "/static/%2fetc%2fpasswd",
        "/static//etc/passwd",
        "/static/app.js%00",
        "/static/app.js%00.txt",
        "/static/%00/../secret.txt",
        "/static/.env",
        "/static/%2eenv",
        "/static/.well-known/security.txt",
        "/static/app.js/x",
        "/static/%ff",
        "/static/%zz",
    ] {
        let response = client.get(attempt).send().await;
        assert!(
            response.status == 404 || response.status == 400,
            "{attempt}: {}",
            response.status
        );
        assert!(!response.text().contains(SECRET), "{attempt} leaked");
        assert_eq!(response.problem().status(), response.status);
    }
    // An absolute path in the URL is not an absolute path on disk.
    let absolute = root.path("secret.txt");
    let attempt = format!("/static/{}", absolute.display());
    let response = client.get(attempt.as_str()).send().await;
    assert!(!response.text().contains(SECRET));

    // Dotfiles are opt-in, and opting in does not open `..`.
    let hidden = self::client(public(&root).hidden_files(true));
    let response = hidden.get("/static/.well-known/security.txt").send().await;
    assert_eq!(response.status, 200);
    let response = hidden.get("/static/../.env").send().await;
    assert_eq!(response.status, 404);
    assert!(!response.text().contains(SECRET));
}

#[tokio::test]
async fn head_has_headers_and_no_body() {
    let root = site();
    let client = client(public(&root));
    let response = client.head("/static/app.3f2a9c1b.js").send().await;
    assert_eq!(response.status, 200);
    assert!(response.body.is_empty());
    assert_eq!(response.header("content-type"), Some("text/javascript"));
    assert_eq!(
        response.header("content-length"),
        Some("console.log('hashed')".len().to_string().as_str())
    );
    assert_eq!(
        response.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert!(response.header("etag").is_some());
    assert!(response.header("last-modified").is_some());

    let missing = client.head("/static/nope.js").send().await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn other_methods_are_405_problems() {
    let root = site();
    let client = client(public(&root));
    for response in [
        client.post("/static/app.js").send().await,
        client.put("/static/app.js").body("x").send().await,
        client.delete("/static/app.js").send().await,
        client.patch("/static/nope.js").send().await,
        client.options("/static/app.js").send().await,
    ] {
        assert_eq!(response.status, 405);
        assert_eq!(response.header("allow"), Some("GET, HEAD"));
        assert_eq!(response.problem().status(), 405);
    }
    // And nothing was written.
    assert_eq!(
        client.get("/static/app.js").send().await.text(),
        "console.log('app')"
    );
}

#[tokio::test]
async fn missing_files_are_404_problems() {
    let root = site();
    let client = client(public(&root));
    let response = client.get("/static/missing.css").send().await;
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    assert_not_found(&response, "/static/missing.css");
    let body: serde_json::Value = response.json();
    assert_eq!(body["status"], 404);
    assert_eq!(body["title"], "Not Found");

    assert_not_found(
        &client.get("/static/css/nope/deeper.css").send().await,
        "/static/css/nope/deeper.css",
    );
    // A whole directory that does not exist.
    let gone = self::client(StaticFiles::new(root.path("not-built-yet")));
    assert_not_found(&gone.get("/static/app.js").send().await, "/static/app.js");

    // Names longer than the file system allows (255 bytes on Linux, less with the
    // `.br`/`.gz` of a precompressed variant), and paths longer than it allows in all.
    let precompressed = self::client(public(&root).precompressed());
    for name in [
        "a".repeat(253),
        "a".repeat(256),
        "a".repeat(5000),
        ["a"; 2100].join("/"),
    ] {
        let path = format!("/static/{name}");
        for client in [&client, &precompressed] {
            let response = client
                .get(&path)
                .header("accept-encoding", "br, gzip")
                .send()
                .await;
            assert_not_found(&response, &path);
        }
    }
}

#[tokio::test]
async fn directories_and_index_html() {
    let root = site();
    let client = client(public(&root));
    for path in ["/static/docs", "/static/docs/", "/static", "/static/"] {
        assert_eq!(client.get(path).send().await.status, 404, "{path}");
    }

    let index = self::client(public(&root).index_html(true));
    for path in ["/static/docs", "/static/docs/", "/static/docs/index.html"] {
        let response = index.get(path).send().await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.text(), "<h1>docs</h1>");
        assert_eq!(response.header("content-type"), Some("text/html"));
    }
    // No `index.html` in the root: still a 404.
    assert_eq!(index.get("/static/").send().await.status, 404);
    assert_eq!(index.get("/static/css/").send().await.status, 404);
}

#[tokio::test]
async fn ranges() {
    let root = site();
    let client = client(public(&root));
    let part = client
        .get("/static/app.js")
        .header("range", "bytes=0-6")
        .send()
        .await;
    assert_eq!(part.status, 206);
    assert_eq!(part.text(), "console");
    assert_eq!(part.header("content-range"), Some("bytes 0-6/18"));

    let beyond = client
        .get("/static/app.js")
        .header("range", "bytes=100-200")
        .send()
        .await;
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range"), Some("bytes */18"));
    assert_eq!(beyond.problem().status(), 416);
}

#[tokio::test]
async fn as_the_fallback_service() {
    let root = site();
    let app = Router::new()
        .route("/api", get(|| async { "api" }))
        .fallback_service(public(&root).into_service());
    let client = TestClient::new(app);
    assert_eq!(client.get("/api").send().await.text(), "api");
    assert_eq!(
        client.get("/app.js").send().await.text(),
        "console.log('app')"
    );
    assert_not_found(&client.get("/nope").send().await, "/nope");
    assert_eq!(client.get("/../secret.txt").send().await.status, 404);
}

#[test]
fn builder_keeps_the_directory() {
    let files = StaticFiles::new("assets");
    assert_eq!(files.dir(), Path::new("assets"));
}
