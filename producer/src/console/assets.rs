//! The console's own assets, embedded in the binary (no CDN, no build chain): one stylesheet
//! and a few lines of vanilla script, served with cache headers; and the security headers
//! every response carries, a Content-Security-Policy that allows only these assets first.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::console::server::Console;

/// The stylesheet's address; the version makes a new binary's stylesheet a new URL, so it may
/// be cached long.
pub(crate) const STYLESHEET_PATH: &str =
    concat!("/assets/console.css?v=", env!("CARGO_PKG_VERSION"));
pub(crate) const SCRIPT_PATH: &str = concat!("/assets/console.js?v=", env!("CARGO_PKG_VERSION"));

const STYLESHEET: &str = include_str!("assets/console.css");
const SCRIPT: &str = include_str!("assets/console.js");

/// Only the console's own stylesheet, script, images and forms; no frames, no inline script
/// or style (pages use classes and SVG attributes, never `style=`).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'; object-src 'none'";

/// A day: the URLs change with the version, so a stale copy is never served after an upgrade
/// in practice; a development build of the same version may be reloaded by hand.
const ASSET_CACHE: &str = "public, max-age=86400";

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/assets/console.css", get(stylesheet))
        .route("/assets/console.js", get(script))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, ASSET_CACHE),
        ],
        STYLESHEET,
    )
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, ASSET_CACHE),
        ],
        SCRIPT,
    )
}

/// Middleware: the security headers on every response (pages, assets, errors, downloads).
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        // Pages hold live numbers and a CSRF token: never from a cache.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
