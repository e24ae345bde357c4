//! The HTTP tier end to end: rejections, defaults, ORM mapping and the test client.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::response::{AppendHeaders, IntoResponse};
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode, header};
use rustango_http::extract::{Form, Json, Path, Query};
use rustango_http::test_client::{TestClient, TestResponse};
use rustango_http::{ApiResult, Problem, RouterExt};
use rustango_orm::{Pool, Value, raw};
use serde::{Deserialize, Serialize};
use serde_json::json;

// --- helpers -----------------------------------------------------------------------

/// Checks the response is a well-formed problem with `status`, and returns its body.
#[track_caller]
fn assert_problem(response: &TestResponse, status: u16) -> serde_json::Value {
    assert_eq!(response.status, status, "body: {}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    let body: serde_json::Value = response.json();
    let object = body.as_object().expect("a problem is a JSON object");
    assert_eq!(object["status"], status);
    assert!(object["type"].is_string());
    assert!(object["title"].is_string());
    let parsed = response.problem();
    assert_eq!(parsed.status(), status);
    body
}

/// A tracing subscriber that keeps every event as text.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<String>>>);

impl Logs {
    fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

struct Visitor<'a>(&'a mut String);

impl tracing::field::Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl tracing::Subscriber for Logs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = event.metadata().level().to_string();
        event.record(&mut Visitor(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

// --- rejections --------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize)]
struct NewPost {
    title: String,
    #[serde(default)]
    votes: u32,
}

async fn create_post(Json(post): Json<NewPost>) -> (StatusCode, Json<NewPost>) {
    (StatusCode::CREATED, Json(post))
}

async fn show_item(Path(id): Path<u32>) -> String {
    id.to_string()
}

#[derive(Deserialize)]
struct Page {
    page: u32,
}

async fn search(Query(q): Query<Page>) -> String {
    q.page.to_string()
}

async fn submit(Form(post): Form<NewPost>) -> String {
    format!("{}:{}", post.title, post.votes)
}

async fn bad_path(Path(id): Path<u32>) -> String {
    id.to_string()
}

async fn unserializable() -> Json<HashMap<(u8, u8), u8>> {
    Json(HashMap::from([((1, 2), 3)]))
}

fn rejections_app() -> Router {
    Router::new()
        .route("/posts", post(create_post))
        .route("/items/{id}", get(show_item))
        .route("/search", get(search))
        .route("/form", get(submit).post(submit))
        .route("/no-params", get(bad_path))
        .route("/unserializable", get(unserializable))
        .layer(DefaultBodyLimit::max(64))
        .with_problem_defaults()
}

#[tokio::test]
async fn json_extractor_and_response() {
    let client = TestClient::new(rejections_app());
    let ok = client
        .post("/posts")
        .header("authorization", "Bearer x")
        .json(&json!({"title": "Hi"}))
        .send()
        .await;
    assert_eq!(ok.status, 201);
    assert_eq!(ok.header("content-type"), Some("application/json"));
    let post: serde_json::Value = ok.json();
    assert_eq!(post, json!({"title": "Hi", "votes": 0}));

    // Not JSON at all: malformed, 400.
    let syntax = client
        .post("/posts")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await;
    let body = assert_problem(&syntax, 400);
    assert!(body["detail"].as_str().unwrap().contains("parse"), "{body}");

    // JSON of the wrong shape: 422 with serde's message.
    let shape = client
        .post("/posts")
        .json(&json!({"title": 5}))
        .send()
        .await;
    let body = assert_problem(&shape, 422);
    assert!(
        body["detail"].as_str().unwrap().contains("invalid type"),
        "{body}"
    );
    let missing = client.post("/posts").json(&json!({})).send().await;
    let body = assert_problem(&missing, 422);
    assert!(body["detail"].as_str().unwrap().contains("title"), "{body}");

    // No JSON content type: 415.
    let no_type = client.post("/posts").body(r#"{"title":"x"}"#).send().await;
    assert_problem(&no_type, 415);
    let wrong_type = client
        .post("/posts")
        .header("content-type", "text/plain")
        .body(r#"{"title":"x"}"#)
        .send()
        .await;
    assert_problem(&wrong_type, 415);

    // Over the body limit: 413.
    let big = client
        .post("/posts")
        .json(&json!({"title": "x".repeat(500)}))
        .send()
        .await;
    assert_problem(&big, 413);

    // A response that cannot be serialized: a generic 500 problem.
    let broken = client.get("/unserializable").send().await;
    let body = assert_problem(&broken, 500);
    assert!(!body["detail"].as_str().unwrap().contains("key"), "{body}");
}

#[tokio::test]
async fn path_query_and_form_rejections() {
    let client = TestClient::new(rejections_app());
    assert_eq!(client.get("/items/7").send().await.text(), "7");

    // A malformed id is a bad request, not a missing resource.
    let body = assert_problem(&client.get("/items/abc").send().await, 400);
    assert!(body["detail"].as_str().unwrap().contains("abc"), "{body}");
    assert_problem(&client.get("/items/99999999999").send().await, 400);

    assert_eq!(client.get("/search?page=3").send().await.text(), "3");
    assert_problem(&client.get("/search?page=abc").send().await, 400);
    assert_problem(&client.get("/search").send().await, 400);
    let query = client.get("/search").query(&[("page", "4")]).send().await;
    assert_eq!(query.text(), "4");

    // Forms: a body, and the query string of a GET.
    let ok = client
        .post("/form")
        .form(&json!({"title": "a b&c", "votes": 2}))
        .send()
        .await;
    assert_eq!(ok.text(), "a b&c:2");
    let got = client.get("/form?title=x&votes=1").send().await;
    assert_eq!(got.text(), "x:1");
    assert_problem(&client.get("/form?votes=abc").send().await, 400);
    assert_problem(
        &client
            .post("/form")
            .form(&[("title", "x"), ("votes", "many")])
            .send()
            .await,
        422,
    );
    assert_problem(&client.post("/form").body("title=x").send().await, 415);

    // A handler asking for parameters its route lacks is a server bug: generic 500.
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let body = assert_problem(&client.get("/no-params").send().await, 500);
    assert!(!body["detail"].as_str().unwrap().contains("path"), "{body}");
    assert!(logs.text().contains("ERROR"), "{}", logs.text());
}

// --- defaults ----------------------------------------------------------------------

async fn boom() -> &'static str {
    panic!("secret panic message 42")
}

async fn own_405() -> impl IntoResponse {
    (StatusCode::METHOD_NOT_ALLOWED, "mine")
}

fn defaults_app() -> Router {
    let api = Router::new().route("/things", get(|| async { "things" }));
    Router::new()
        .route("/posts", get(|| async { "list" }).post(|| async { "made" }))
        .route("/boom", get(boom))
        .route("/own-405", get(own_405))
        .nest("/api", api)
        .with_problem_defaults()
}

#[tokio::test]
async fn panics_become_generic_500s() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let client = TestClient::new(defaults_app());
    let response = client.get("/boom").send().await;
    let body = assert_problem(&response, 500);
    assert!(!response.text().contains("secret"), "{body}");
    assert_eq!(body["detail"], "The server could not complete the request.");
    // The message is logged, at error level.
    let logged = logs.text();
    assert!(
        logged.contains("ERROR") && logged.contains("secret panic message 42"),
        "{logged}"
    );
    // The app keeps serving.
    assert_eq!(client.get("/posts").send().await.text(), "list");
}

/// A service that panics while it is called, before any future exists.
#[derive(Clone)]
struct PanicsInCall;

impl tower::Service<axum::extract::Request> for PanicsInCall {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: axum::extract::Request) -> Self::Future {
        panic!("secret call panic 7")
    }
}

#[tokio::test]
async fn panics_while_calling_become_generic_500s() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let app = Router::new()
        .route_service("/call", PanicsInCall)
        .layer(rustango_http::ProblemDefaultsLayer);
    let client = TestClient::new(app);
    let response = client.get("/call").send().await;
    let body = assert_problem(&response, 500);
    assert!(!response.text().contains("secret"), "{body}");
    assert!(
        logs.text().contains("secret call panic 7"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn unknown_routes_are_404_problems_with_instance() {
    let client = TestClient::new(defaults_app());
    let response = client.get("/nope/deeper?x=1").send().await;
    let body = assert_problem(&response, 404);
    assert_eq!(body["instance"], "/nope/deeper");
    let nested = client.get("/api/missing").send().await;
    assert_eq!(assert_problem(&nested, 404)["instance"], "/api/missing");
    assert_eq!(client.get("/api/things").send().await.text(), "things");
}

#[tokio::test]
async fn wrong_methods_are_405_problems_with_allow() {
    let client = TestClient::new(defaults_app());
    let response = client.delete("/posts").send().await;
    let body = assert_problem(&response, 405);
    assert_eq!(body["instance"], "/posts");
    let allow = response.header("allow").expect("Allow is kept");
    let mut methods: Vec<&str> = allow.split(',').map(str::trim).collect();
    methods.sort_unstable();
    assert_eq!(methods, ["GET", "HEAD", "POST"]);

    let nested = client.put("/api/things").send().await;
    assert_problem(&nested, 405);
    assert!(nested.header("allow").unwrap().contains("GET"));

    // A handler's own 405 with a body is left alone.
    let own = client.get("/own-405").send().await;
    assert_eq!(own.status, 405);
    assert_eq!(own.text(), "mine");
}

// --- Problem -----------------------------------------------------------------------

#[tokio::test]
async fn problem_builders_and_extensions() {
    let problem = Problem::new(StatusCode::CONFLICT)
        .with_type("https://example.com/probs/slug-taken")
        .with_title("Slug taken")
        .with_detail("A post already uses this slug.")
        .with_instance("/posts/9")
        .with_extension("slug", "hello")
        .with_extension("status", 200)
        .with_extension("type", "sneaky");
    let body = serde_json::to_value(&problem).unwrap();
    assert_eq!(
        body,
        json!({
            "type": "https://example.com/probs/slug-taken",
            "title": "Slug taken",
            "status": 409,
            "detail": "A post already uses this slug.",
            "instance": "/posts/9",
            "slug": "hello",
        })
    );
    let parsed: Problem = serde_json::from_value(body).unwrap();
    assert_eq!(parsed, problem);
    assert_eq!(parsed.extension("slug"), Some(&json!("hello")));

    let too_many = Problem::too_many_requests(30).into_response();
    assert_eq!(too_many.status(), 429);
    assert_eq!(too_many.headers()[header::RETRY_AFTER], "30");
    assert_eq!(
        too_many.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(Problem::payload_too_large().status(), 413);
    assert_eq!(Problem::not_found().title(), Some("Not Found"));
    assert_eq!(Problem::bad_request("x").detail(), Some("x"));
    assert_eq!(Problem::unprocessable("x").status(), 422);
    assert_eq!(Problem::internal().status(), 500);
    assert_eq!(Problem::internal().type_uri(), "about:blank");
}

// --- ORM errors --------------------------------------------------------------------

async fn pool() -> Pool {
    let pool = Pool::connect("sqlite::memory:").await.unwrap();
    raw::execute_script(
        &pool,
        "CREATE TABLE authors (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            age INTEGER CHECK (age >= 0)
        );
        CREATE TABLE posts (
            id INTEGER PRIMARY KEY,
            author_id INTEGER NOT NULL REFERENCES authors (id)
        );",
    )
    .await
    .unwrap();
    pool
}

#[derive(Deserialize)]
struct NewAuthor {
    name: Option<String>,
    age: i64,
}

async fn create_author(
    State(pool): State<Pool>,
    Json(author): Json<NewAuthor>,
) -> ApiResult<StatusCode> {
    let name = match author.name {
        Some(name) => Value::String(name),
        None => Value::Null(Value::String(String::new()).kind()),
    };
    raw::execute(
        &pool,
        "INSERT INTO authors (name, age) VALUES (?, ?)",
        vec![name, Value::I64(author.age)],
    )
    .await?;
    Ok(StatusCode::CREATED)
}

async fn create_post_for(
    State(pool): State<Pool>,
    Path(author): Path<i64>,
) -> ApiResult<StatusCode> {
    raw::execute(
        &pool,
        "INSERT INTO posts (author_id) VALUES (?)",
        vec![Value::I64(author)],
    )
    .await?;
    Ok(StatusCode::CREATED)
}

async fn broken_sql(State(pool): State<Pool>) -> ApiResult<()> {
    raw::execute(&pool, "SELEC secret_column FROM nowhere", vec![]).await?;
    Ok(())
}

async fn two_queries(State(pool): State<Pool>) -> ApiResult<&'static str> {
    raw::execute(&pool, "UPDATE authors SET age = age + 1", vec![]).await?;
    raw::execute(&pool, "UPDATE authors SET age = age - 1", vec![]).await?;
    Ok("done")
}

async fn orm_error(Path(kind): Path<String>) -> ApiResult<()> {
    use rustango_orm::Error as E;
    let cause = || Box::new(std::io::Error::other("driver detail")) as _;
    Err(match kind.as_str() {
        "missing" => E::DoesNotExist { model: "Post" },
        "multiple" => E::MultipleObjectsReturned { model: "Post" },
        "invalid" => E::InvalidValue {
            field: "slug".into(),
            reason: "must not contain spaces".into(),
        },
        "timeout" => E::Timeout(cause()),
        "lost" => E::ConnectionLost(cause()),
        _ => E::Unsupported("secret internals".into()),
    }
    .into())
}

async fn migrate_error() -> ApiResult<()> {
    Err(rustango_migrate::Error::UnknownTarget(
        "secret_target".into(),
    ))?
}

fn orm_app(pool: Pool) -> Router {
    Router::new()
        .route("/authors", post(create_author))
        .route("/authors/{id}/posts", post(create_post_for))
        .route("/broken", get(broken_sql))
        .route("/two", post(two_queries))
        .route("/errors/{kind}", get(orm_error))
        .route("/migrate", get(migrate_error))
        .with_state(pool)
        .with_problem_defaults()
}

#[tokio::test]
async fn database_errors_map_to_statuses() {
    let pool = pool().await;
    let client = TestClient::new(orm_app(pool));
    let created = client
        .post("/authors")
        .json(&json!({"name": "Ann", "age": 30}))
        .send()
        .await;
    assert_eq!(created.status, 201, "{}", created.text());

    let duplicate = client
        .post("/authors")
        .json(&json!({"name": "Ann", "age": 31}))
        .send()
        .await;
    let body = assert_problem(&duplicate, 409);
    assert_eq!(body["constraint"], "name");
    assert!(!duplicate.text().contains("UNIQUE constraint"), "{body}");

    let fk = client.post("/authors/999/posts").send().await;
    assert_problem(&fk, 409);
    assert_eq!(client.post("/authors/1/posts").send().await.status, 201);

    let not_null = client
        .post("/authors")
        .json(&json!({"name": null, "age": 1}))
        .send()
        .await;
    let body = assert_problem(&not_null, 422);
    assert_eq!(body["field"], "name");

    let check = client
        .post("/authors")
        .json(&json!({"name": "Bob", "age": -1}))
        .send()
        .await;
    assert_problem(&check, 422);

    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let broken = client.get("/broken").send().await;
    let body = assert_problem(&broken, 500);
    assert!(!broken.text().contains("secret_column"), "{body}");
    assert!(!broken.text().contains("syntax"), "{body}");
    assert!(logs.text().contains("ERROR"), "{}", logs.text());
    assert!(logs.text().contains("syntax error"), "{}", logs.text());
}

#[tokio::test]
async fn constructed_errors_map_to_statuses() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let client = TestClient::new(orm_app(pool().await));

    let missing = client.get("/errors/missing").send().await;
    let body = assert_problem(&missing, 404);
    assert!(body["detail"].as_str().unwrap().contains("Post"), "{body}");

    let multiple = client.get("/errors/multiple").send().await;
    assert_eq!(
        assert_problem(&multiple, 500)["detail"],
        "The server could not complete the request."
    );

    let invalid = client.get("/errors/invalid").send().await;
    let body = assert_problem(&invalid, 422);
    assert_eq!(body["field"], "slug");

    let timeout = client.get("/errors/timeout").send().await;
    assert_problem(&timeout, 503);
    assert!(timeout.header("retry-after").is_some());
    assert!(!timeout.text().contains("driver detail"));

    let lost = client.get("/errors/lost").send().await;
    assert_problem(&lost, 503);
    assert!(!lost.text().contains("driver detail"));

    let other = client.get("/errors/other").send().await;
    assert_problem(&other, 500);
    assert!(!other.text().contains("secret"));

    let migrate = client.get("/migrate").send().await;
    assert_problem(&migrate, 500);
    assert!(!migrate.text().contains("secret_target"));

    let logged = logs.text();
    for needle in ["secret internals", "secret_target", "driver detail"] {
        assert!(logged.contains(needle), "{needle} not in {logged}");
    }
}

#[tokio::test]
async fn queries_are_counted_per_request() {
    let pool = pool().await;
    let client = TestClient::new(orm_app(pool.clone())).with_pool(pool);
    let two = client.post("/two").send().await;
    assert_eq!(two.text(), "done");
    assert_eq!(two.queries, Some(2));
    two.assert_max_queries(2);

    let none = client.get("/nope").send().await;
    assert_eq!(none.queries, Some(0));

    let unpooled = TestClient::new(Router::new()).get("/").send().await;
    assert_eq!(unpooled.queries, None);
}

#[tokio::test]
#[should_panic(expected = "more than the 1 allowed")]
async fn too_many_queries_fail_the_assertion() {
    let pool = pool().await;
    let client = TestClient::new(orm_app(pool.clone())).with_pool(pool);
    client.post("/two").send().await.assert_max_queries(1);
}

// --- cookies and peers -------------------------------------------------------------

async fn echo_cookies(headers: HeaderMap) -> String {
    headers
        .get(header::COOKIE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn cookie_app() -> Router {
    Router::new()
        .route(
            "/login",
            post(|| async {
                (
                    AppendHeaders([
                        (
                            header::SET_COOKIE,
                            "sid=abc123; Path=/; HttpOnly; SameSite=Lax",
                        ),
                        (header::SET_COOKIE, "theme=dark; Max-Age=3600"),
                    ]),
                    "in",
                )
            }),
        )
        .route(
            "/logout",
            post(|| async {
                (
                    AppendHeaders([
                        (header::SET_COOKIE, "sid=; Path=/; Max-Age=0"),
                        (
                            header::SET_COOKIE,
                            "theme=; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                        ),
                    ]),
                    "out",
                )
            }),
        )
        .route("/cookies", get(echo_cookies))
        .route(
            "/ip",
            get(|ConnectInfo(addr): ConnectInfo<SocketAddr>| async move { addr.ip().to_string() }),
        )
}

#[tokio::test]
async fn cookies_are_kept_and_deleted() {
    let client = TestClient::new(cookie_app());
    assert_eq!(client.get("/cookies").send().await.text(), "");
    client.post("/login").send().await;
    assert_eq!(client.cookie("sid").as_deref(), Some("abc123"));
    assert_eq!(
        client.get("/cookies").send().await.text(),
        "sid=abc123; theme=dark"
    );
    // A clone shares the jar; a header set by hand is kept and joined.
    let clone = client.clone();
    assert_eq!(
        clone
            .get("/cookies")
            .header("cookie", "extra=1")
            .send()
            .await
            .text(),
        "extra=1; sid=abc123; theme=dark"
    );
    client.post("/logout").send().await;
    assert_eq!(client.cookie("sid"), None);
    assert_eq!(client.get("/cookies").send().await.text(), "");

    client.set_cookie("manual", "yes");
    assert_eq!(client.get("/cookies").await.text(), "manual=yes");
    client.clear_cookies();
    assert!(client.cookies().is_empty());
}

#[tokio::test]
async fn peer_address_reaches_handlers() {
    let client = TestClient::new(cookie_app());
    assert_eq!(client.get("/ip").send().await.text(), "127.0.0.1");
    let client = client.with_peer_addr("203.0.113.9:5000".parse().unwrap());
    assert_eq!(client.get("/ip").send().await.text(), "203.0.113.9");
    let one = client
        .get("/ip")
        .peer_addr("198.51.100.1:1".parse().unwrap())
        .send()
        .await;
    assert_eq!(one.text(), "198.51.100.1");
}

#[tokio::test]
async fn other_methods_and_helpers() {
    let app = Router::new().route(
        "/r",
        get(|| async { "g" })
            .put(|| async { "u" })
            .patch(|| async { "p" })
            .delete(|| async { StatusCode::NO_CONTENT })
            .options(|| async { "o" }),
    );
    let client = TestClient::new(app);
    assert_eq!(client.put("/r").send().await.text(), "u");
    assert_eq!(client.patch("/r").send().await.text(), "p");
    assert_eq!(client.delete("/r").send().await.status, 204);
    assert_eq!(client.options("/r").send().await.text(), "o");
    let head = client.head("/r").send().await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let custom = client
        .request(http::Method::GET, "/r")
        .bearer("tok")
        .send()
        .await;
    assert_eq!(custom.status_code(), StatusCode::OK);
}
