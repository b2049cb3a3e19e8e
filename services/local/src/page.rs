//! The chat page: a KakaoTalk-like web chat served at `GET /`, so the embedded runner can be
//! tried in a browser through the real path. The page posts Kakao-shaped skill payloads to
//! `POST /skill` and renders the Kakao JSON answers (simpleText, listCard, basicCard,
//! carousels, buttons, quick replies).
//!
//! The assets are plain files under `services/local/assets/`, embedded in the binary with
//! `include_str!`: no build step, nothing fetched from another origin.

use axum::http::header::{self, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The Content-Security-Policy of every response of the page. Scripts, styles, fonts and
/// requests stay on this origin; images may also come from HTTPS hosts, because the
/// answers' album covers and thumbnails are URLs on the catalog's CDN.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' https:; font-src 'self'; connect-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file of the page: where it is served, its media type and its content.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

/// Every file of the page; the one list the router is built from.
static ASSETS: [Asset; 4] = [
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../assets/index.html"),
    },
    Asset {
        path: "/assets/chat.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../assets/chat.css"),
    },
    Asset {
        path: "/assets/chat.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/chat.js"),
    },
    Asset {
        path: "/assets/avatar.svg",
        content_type: "image/svg+xml",
        body: include_str!("../assets/avatar.svg"),
    },
];

/// The routes of the chat page (`GET /` and its `/assets/…`), to be merged with the skill
/// endpoint's router.
pub fn router() -> Router {
    ASSETS.iter().fold(Router::new(), |router, asset| {
        router.route(asset.path, get(move || async move { serve(asset) }))
    })
}

/// An asset's response, with the page's security headers.
fn serve(asset: &'static Asset) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ],
        asset.body,
    )
        .into_response()
}
