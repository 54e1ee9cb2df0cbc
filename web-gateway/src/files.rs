//! `GET /files/{token}`: a received file, for the session(s) it was sent to.
//! Anyone else gets 404 (the URL's existence is not confirmed). Only png, jpeg,
//! gif and webp (decided by the bytes) are ever `inline`; everything else,
//! SVG, HTML and scripts included, is an `application/octet-stream`
//! attachment, with `nosniff` and a CSP that sandboxes whatever a browser
//! might still render.

use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use tokio_util::io::ReaderStream;

use crate::{AppState, auth, error::AppError};

/// CSP on file responses: nothing may load, and the document is sandboxed.
const FILE_CSP: &str = "default-src 'none'; sandbox";

pub async fn download(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let session = auth::session(&state, &headers).ok_or(AppError::NotFound)?;
    let served = state
        .spool
        .fetch(&token, session.id)
        .ok_or(AppError::NotFound)?;
    let file = tokio::fs::File::open(&served.path)
        .await
        .map_err(|_| AppError::NotFound)?;
    let disposition = content_disposition(served.inline, &served.name);
    let mut response =
        Body::from_stream(ReaderStream::with_capacity(file, 64 * 1024)).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&served.mime)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, served.size.into());
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).expect("ASCII only"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(FILE_CSP),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    Ok(response)
}

/// `inline` or `attachment`, with an ASCII fallback name and the exact UTF-8
/// name percent-encoded (RFC 6266 / 5987).
pub fn content_disposition(inline: bool, name: &str) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn dispositions() {
        assert_eq!(
            content_disposition(true, "cat.png"),
            "inline; filename=\"cat.png\"; filename*=UTF-8''cat.png"
        );
        assert_eq!(
            content_disposition(false, "a \"b\"é.html"),
            "attachment; filename=\"a _b__.html\"; filename*=UTF-8''a%20%22b%22%C3%A9.html"
        );
    }
}
