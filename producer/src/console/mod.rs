//! `wacast serve`: the console, campaigns in the browser. Server-rendered pages (maud) on
//! axum, reading and writing Redis only through `shared::queue`.
//!
//! - `server`: the shared state (`Console`), the router, listening and shutting down; how a
//!   page module adds its routes.
//! - `auth` and `sessions`: login, the session cookie, roles, CSRF, the login throttle.
//! - `layout` (the page shell, navigation, the error page) and `assets` (the stylesheet and
//!   script, the security headers).
//! - `view` (times, states, progress, pace) and `charts` (the SVG pictures): how values show.
//! - The pages: `campaigns` (the list), `campaign` (one, with its actions and report),
//!   `message` (one message, by row or number), `senders`, `optouts`, `workers`,
//!   `new_campaign` (upload, dry run, enqueue).

pub(crate) mod assets;
pub(crate) mod auth;
pub(crate) mod campaign;
pub(crate) mod campaigns;
pub(crate) mod charts;
pub(crate) mod layout;
pub(crate) mod message;
pub(crate) mod new_campaign;
pub(crate) mod optouts;
pub(crate) mod senders;
pub(crate) mod server;
pub(crate) mod sessions;
pub(crate) mod view;
pub(crate) mod workers;
