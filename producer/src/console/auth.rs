//! Who is asking, and may they: the login form and logout, the session cookie (HttpOnly,
//! SameSite=Strict, Secure over HTTPS), the [`Login`] and [`Operator`] extractors page
//! handlers take, and the CSRF check every POST passes before its handler runs.

use std::net::SocketAddr;

use axum::Form;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use maud::{Markup, html};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::console::layout::{error_page, shell};
use crate::console::sessions::{CSRF_FIELD, Login};
use crate::console::state::Console;

/// The session cookie's name.
const COOKIE: &str = "wacast_session";
const CSRF_HEADER: &str = "x-csrf-token";
/// A urlencoded form larger than this is refused before its CSRF token is looked for; uploads
/// are multipart and carry their token in the query.
const FORM_LIMIT: usize = 1024 * 1024;

/// Why a request has no [`Login`].
pub(crate) enum NoLogin {
    /// No session: a page is sent to the login form, a fragment or a POST answers 401.
    Redirect(String),
    Unauthorized,
}

impl IntoResponse for NoLogin {
    fn into_response(self) -> Response {
        match self {
            NoLogin::Redirect(next) => {
                let target = format!(
                    "/login?next={}",
                    percent_encoding::utf8_percent_encode(
                        &next,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                );
                Redirect::to(&target).into_response()
            }
            NoLogin::Unauthorized => error_page(StatusCode::UNAUTHORIZED, "log in first"),
        }
    }
}

impl FromRequestParts<Console> for Login {
    type Rejection = NoLogin;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Login, NoLogin> {
        let jar = CookieJar::from_headers(&parts.headers);
        if let Some(cookie) = jar.get(COOKIE)
            && let Some(session) = console.sessions().touch(cookie.value())
        {
            return Ok(Login {
                role: session.role,
                csrf: session.csrf,
            });
        }
        let wants_page = parts.method == Method::GET
            && !parts.uri.path().ends_with("/fragment")
            && !parts.uri.path().starts_with("/api/");
        if wants_page {
            let next = parts
                .uri
                .path_and_query()
                .map_or("/".to_string(), |p| p.as_str().to_string());
            Err(NoLogin::Redirect(next))
        } else {
            Err(NoLogin::Unauthorized)
        }
    }
}

/// A logged-in operator: an action's handler takes it, and a viewer is answered 403.
#[derive(Debug, Clone)]
pub(crate) struct Operator(pub(crate) Login);

impl FromRequestParts<Console> for Operator {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Console,
    ) -> Result<Operator, Response> {
        let login = Login::from_request_parts(parts, console)
            .await
            .map_err(IntoResponse::into_response)?;
        if login.may_act() {
            Ok(Operator(login))
        } else {
            Err(error_page(
                StatusCode::FORBIDDEN,
                "this login may only look: log in with the operator token to act",
            ))
        }
    }
}

/// The login and logout routes.
pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/login", get(login_form).post(log_in))
        .route("/logout", post(log_out))
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
    failed: Option<String>,
}

async fn login_form(State(console): State<Console>, Query(query): Query<NextQuery>) -> Markup {
    let next = safe_next(query.next.as_deref());
    shell(
        "Log in",
        html! {
            main.login {
                h1 { "wacast console" }
                @if query.failed.is_some() {
                    p.flash.error role="alert" { "That token is not valid." }
                }
                form method="post" action="/login" {
                    input type="hidden" name="next" value=(next);
                    @if console.tokens().open() {
                        p { "No token is configured: this console listens on loopback only and lets anyone here in." }
                        input type="hidden" name="token" value="";
                    } @else {
                        label for="token" { "Token" }
                        input #token type="password" name="token" autocomplete="current-password" required autofocus;
                    }
                    button type="submit" { "Log in" }
                }
            }
        },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

async fn log_in(
    State(console): State<Console>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    let client = console.client(peer.ip(), &headers);
    if !console.login_limiter().admits(client) {
        tracing::warn!(%client, "Login attempts throttled.");
        return error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "too many login attempts from this address: wait a minute and try again",
        );
    }
    let next = safe_next(form.next.as_deref());
    let Some(role) = console.tokens().role_of(&form.token) else {
        tracing::warn!(%client, "Login with a wrong token.");
        let target = format!(
            "/login?failed=1&next={}",
            percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC)
        );
        return (StatusCode::SEE_OTHER, [(header::LOCATION, target)]).into_response();
    };
    let id = console.sessions().create(role);
    let cookie = Cookie::build((COOKIE, id))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(console.https() || forwarded_https(&headers))
        .build();
    tracing::info!(%client, role = role.as_str(), "Logged in.");
    (jar.add(cookie), Redirect::to(&next)).into_response()
}

async fn log_out(State(console): State<Console>, jar: CookieJar) -> Response {
    if let Some(cookie) = jar.get(COOKIE) {
        console.sessions().remove(cookie.value());
    }
    let removal = Cookie::build((COOKIE, "")).path("/").build();
    (jar.remove(removal), Redirect::to("/login")).into_response()
}

/// Whether a proxy in front says the browser spoke HTTPS.
fn forwarded_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// Where to go after logging in: a path of this console only, never another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

/// Middleware: every POST but the login itself carries its session's CSRF token, in the
/// `X-CSRF-Token` header, the `csrf` query parameter (multipart forms put it in their
/// action) or the `csrf` field of a urlencoded form; otherwise it is answered 403 before its
/// handler runs. A POST without a session is left to its handler's [`Login`] (401).
pub(crate) async fn check_csrf(
    State(console): State<Console>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST || request.uri().path() == "/login" {
        return next.run(request).await;
    }
    let jar = CookieJar::from_headers(request.headers());
    let Some(session) = jar
        .get(COOKIE)
        .and_then(|cookie| console.sessions().touch(cookie.value()))
    else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let mut presented = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| query_field(parts.uri.query().unwrap_or(""), CSRF_FIELD));
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body = if presented.is_none() && is_form {
        let Ok(bytes) = to_bytes(body, FORM_LIMIT).await else {
            return error_page(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large");
        };
        presented = query_field(&String::from_utf8_lossy(&bytes), CSRF_FIELD);
        Body::from(bytes)
    } else {
        body
    };
    let valid =
        presented.is_some_and(|token| bool::from(token.as_bytes().ct_eq(session.csrf.as_bytes())));
    if !valid {
        return error_page(
            StatusCode::FORBIDDEN,
            "this form is stale or came from elsewhere (CSRF token missing or wrong): reload the page and try again",
        );
    }
    next.run(Request::from_parts(parts, body)).await
}

/// One field of a urlencoded string.
fn query_field(encoded: &str, name: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(encoded)
        .unwrap_or_default()
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}
