//! The auth app in the site: `site-manage createsuperuser` / `changepassword`, then
//! signing in through the whole production stack (CSRF included).

use std::io::Write as _;
use std::process::{Command, Stdio};

use rustango::config::{Settings, Sources};
use rustango::server::Builder;
use rustango::test_client::TestClient;
use serde_json::{Value, json};

struct Dir(std::path::PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir() -> Dir {
    let dir = std::env::temp_dir().join(format!(
        "rustango-site-auth-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    Dir(dir)
}

fn db_url(dir: &Dir) -> String {
    format!("sqlite://{}?mode=rwc", dir.0.join("db.sqlite3").display())
}

fn manage(dir: &Dir, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_site-manage"));
    cmd.current_dir(&dir.0)
        .env_remove("RUSTANGO_SUPERUSER_PASSWORD")
        .arg("--database-url")
        .arg(db_url(dir))
        .args(args);
    cmd
}

fn run(mut cmd: Command) -> (i32, String) {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn createsuperuser_then_sign_in_through_the_stack() {
    let dir = dir();
    let (code, text) = run(manage(&dir, &["migrate"]));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("auth/0001_initial"), "{text}");

    // --no-input without the password variable, and with a weak one: refused.
    let (code, text) = run(manage(
        &dir,
        &["createsuperuser", "--username", "admin", "--no-input"],
    ));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("RUSTANGO_SUPERUSER_PASSWORD"), "{text}");
    let mut weak = manage(
        &dir,
        &["createsuperuser", "--username", "admin", "--no-input"],
    );
    weak.env("RUSTANGO_SUPERUSER_PASSWORD", "admin123");
    let (code, text) = run(weak);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("too weak"), "{text}");
    assert!(
        !text.contains("admin123"),
        "the password is never printed: {text}"
    );

    let mut create = manage(
        &dir,
        &[
            "createsuperuser",
            "--username",
            "admin",
            "--email",
            "admin@example.com",
            "--no-input",
        ],
    );
    create.env(
        "RUSTANGO_SUPERUSER_PASSWORD",
        "correct horse battery staple",
    );
    let (code, text) = run(create);
    assert_eq!(code, 0, "{text}");
    let mut again = manage(
        &dir,
        &["createsuperuser", "--username", "admin", "--no-input"],
    );
    again.env(
        "RUSTANGO_SUPERUSER_PASSWORD",
        "correct horse battery staple",
    );
    let (code, text) = run(again);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("already exists"), "{text}");

    // changepassword reads the new password from standard input.
    let mut change = manage(&dir, &["changepassword", "admin"]);
    change
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = change.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a brand new passphrase 42\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, text) = run(manage(&dir, &["changepassword", "nobody"]));
    assert_eq!(code, 1, "{text}");

    // Sign in over HTTP, through CSRF and the rest of the stack.
    let settings = Settings::load(Sources::new(&dir.0).var("DATABASE_URL", db_url(&dir))).unwrap();
    let builder = site::app(Builder::from_settings(settings).await.unwrap())
        .await
        .unwrap();
    let c = TestClient::new(builder.into_router());
    assert_eq!(c.get("/api/me").send().await.status, 401);
    // The sign-in page's form carries the token, and its response the cookie.
    let page = c.get("/auth/login").send().await;
    assert!(
        page.text().contains("csrfmiddlewaretoken"),
        "{}",
        page.text()
    );
    let token = c.cookie("csrftoken").expect("the CSRF cookie");
    let creds = json!({"username": "admin", "password": "a brand new passphrase 42"});
    // Without the CSRF token a cookie-carrying sign-in is refused.
    assert_eq!(c.post("/auth/login").json(&creds).send().await.status, 403);
    let r = c
        .post("/auth/login")
        .header("x-csrf-token", token.as_str())
        .json(&creds)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json::<Value>()["user"]["is_superuser"], true);
    let me: Value = c.get("/api/me").send().await.json();
    assert_eq!(me["username"], "admin");
    let r = c
        .post("/auth/logout")
        .header("x-csrf-token", token.as_str())
        .send()
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(c.get("/api/me").send().await.status, 401);

    // JWT for scripts: no cookies, so no CSRF token needed.
    let script = TestClient::new(
        site::app(
            Builder::from_settings(
                Settings::load(Sources::new(&dir.0).var("DATABASE_URL", db_url(&dir))).unwrap(),
            )
            .await
            .unwrap(),
        )
        .await
        .unwrap()
        .into_router(),
    );
    let pair: Value = script.post("/auth/token").json(&creds).send().await.json();
    let access = pair["access"].as_str().expect("an access token");
    let me: Value = script
        .get("/api/me")
        .header("authorization", format!("Bearer {access}"))
        .send()
        .await
        .json();
    assert_eq!(me["username"], "admin");
}
