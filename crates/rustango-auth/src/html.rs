//! The sign-in pages: the same endpoints as the JSON flows answer HTML forms too.
//!
//! `GET /login`, `/password/change`, `/password/reset` and `/password/reset/confirm`
//! render small, unstyled forms (a project restyles them by serving its own pages
//! that post the same fields). A `POST` with `application/x-www-form-urlencoded` is
//! handled as a form: success redirects (`303`) to the `next` field when it is a safe
//! same-origin path ([`crate::redirects::safe_next`]) or to `/`; failure renders the
//! form again with the error and the right status. Forms carry the CSRF token of the
//! default middleware stack (`csrfmiddlewaretoken`) when the request has one.

use axum::extract::{FromRequest, Request};
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::StatusCode;
use rustango_http::Problem;
use rustango_http::extract::{Form, Json};
use serde::de::DeserializeOwned;

/// A request body that is either JSON or an HTML form, by `Content-Type`.
pub(crate) enum Input<T> {
    /// `application/json` (or anything that is not a form).
    Json(T),
    /// `application/x-www-form-urlencoded`.
    Form(T),
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Input<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if is_form {
            Ok(Input::Form(Form::<T>::from_request(req, state).await?.0))
        } else {
            Ok(Input::Json(Json::<T>::from_request(req, state).await?.0))
        }
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// One form field.
pub(crate) struct Field<'a> {
    pub(crate) name: &'a str,
    pub(crate) label: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) value: &'a str,
    pub(crate) autocomplete: &'a str,
}

/// A page with one form posting to `action`.
pub(crate) fn page(
    title: &str,
    error: Option<&str>,
    action: &str,
    csrf: Option<&str>,
    hidden: &[(&str, &str)],
    fields: &[Field<'_>],
    submit: &str,
) -> String {
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{t}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\n<body>\n\
         <h1>{t}</h1>\n",
        t = escape(title)
    );
    if let Some(error) = error {
        html.push_str(&format!("<p role=\"alert\">{}</p>\n", escape(error)));
    }
    html.push_str(&format!(
        "<form method=\"post\" action=\"{}\">\n",
        escape(action)
    ));
    if let Some(token) = csrf {
        html.push_str(&format!(
            "<input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"{}\">\n",
            escape(token)
        ));
    }
    for (name, value) in hidden {
        html.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            escape(name),
            escape(value)
        ));
    }
    for f in fields {
        html.push_str(&format!(
            "<p><label>{label}<br><input type=\"{kind}\" name=\"{name}\" value=\"{value}\" \
             autocomplete=\"{ac}\"></label></p>\n",
            label = escape(f.label),
            kind = escape(f.kind),
            name = escape(f.name),
            value = escape(f.value),
            ac = escape(f.autocomplete),
        ));
    }
    html.push_str(&format!(
        "<p><button type=\"submit\">{}</button></p>\n</form>\n</body>\n</html>\n",
        escape(submit)
    ));
    html
}

/// The page as a response with `status`.
pub(crate) fn respond(status: StatusCode, html: String) -> Response {
    (status, Html(html)).into_response()
}

/// Where to go after a successful form: `next` when it is a safe same-origin path.
pub(crate) fn redirect_next(next: Option<&str>) -> Response {
    let target = next
        .and_then(crate::redirects::safe_next)
        .unwrap_or("/")
        .to_owned();
    Redirect::to(&target).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_matters() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#x27;y&#x27;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn unsafe_next_goes_home() {
        for bad in ["//evil.example", "https://evil.example", "/\\evil.example"] {
            let r = redirect_next(Some(bad));
            assert_eq!(r.headers()["location"], "/", "{bad}");
        }
        let r = redirect_next(Some("/notes?page=2"));
        assert_eq!(r.headers()["location"], "/notes?page=2");
    }
}
