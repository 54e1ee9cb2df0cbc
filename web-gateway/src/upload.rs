//! `POST /upload`: a browser sends a file to a user or the room. A plain HTML
//! form (`multipart/form-data`: `csrf`, `to`, `file`, in that order) that works
//! without JavaScript (redirect back to the chat with a notice) and with it
//! (`Accept: application/json` gets JSON, the page shows progress).
//!
//! The core's `file_offer` needs the size and SHA-256 up front, and nothing may
//! be half-sent, so the upload is first streamed to a temporary file in the spool
//! directory (counted and hashed chunk by chunk, never held in memory; over the
//! limit it stops at once with 413), then offered and streamed to the core in
//! 64 KiB chunks.

use std::{path::PathBuf, time::Duration};

use axum::{
    Json,
    extract::{Multipart, State, multipart::Field},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use bytes::BytesMut;
use protocol::{
    CHUNK_SIZE, ClientMsg, FileKind, SNIFF_LEN, SessionId, Target, client::SendCredit, sniff_image,
    validate_name,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use protocol::human_size;

use crate::{
    AppState, auth,
    error::AppError,
    link::{LinkError, LinkSession},
    sessions::UploadReply,
};

/// Room for the multipart framing and the small fields around the file.
pub const MULTIPART_SLACK: u64 = 64 * 1024;
/// Longest value accepted for the small fields (`csrf`, `to`).
const SMALL_FIELD: usize = 256;
/// How long the core may take to accept an offer.
const OFFER_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let session = auth::session(&state, &headers);
    match receive(&state, &headers, multipart).await {
        Ok(notice) => {
            if wants_json {
                Json(serde_json::json!({"ok": true, "message": notice})).into_response()
            } else {
                if let Some(session) = &session {
                    state.hub.set_flash(session.id, notice);
                }
                Redirect::to("/chat").into_response()
            }
        }
        Err(e) if wants_json => e.into_json(),
        // Without JavaScript, a refusal the user can fix goes back to the chat
        // page as a notice; the size limit, CSRF and session errors keep their
        // status (413, 403, …) with a page that explains.
        Err(e @ (AppError::BadRequest(_) | AppError::Refused(_) | AppError::Link(_)))
            if session.is_some() =>
        {
            if let Some(session) = &session {
                state.hub.set_flash(session.id, format!("Not sent: {e}"));
            }
            Redirect::to("/chat").into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// Deletes the temporary copy of an upload whatever happens.
struct TempUpload {
    path: PathBuf,
}

impl Drop for TempUpload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The file part, on disk.
struct Received {
    /// The bytes, on disk (removed when this is dropped).
    temp: TempUpload,
    /// The browser's file name, made tidy.
    name: String,
    size: u64,
    /// Lower-case hex, as `file_offer` wants it.
    sha256: String,
    /// `image` when the first bytes are png/jpeg/gif/webp.
    kind: FileKind,
}

async fn receive(
    state: &AppState,
    headers: &HeaderMap,
    mut multipart: Multipart,
) -> Result<String, AppError> {
    let session = auth::session(state, headers).ok_or(AppError::NoSession)?;
    if !auth::origin_allowed(headers, &state.config.allowed_origins) {
        return Err(AppError::Forbidden("cross-origin upload refused"));
    }
    let limit = state.max_upload();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit + MULTIPART_SLACK) {
        return Err(AppError::TooLarge { limit });
    }
    // Per user first: one user's stalled uploads must not hold every slot.
    let _mine = state.user_uploads.start(session.id).ok_or_else(|| {
        AppError::TooMany(format!(
            "you already have {} uploads in progress; wait for one to finish",
            state.config.max_uploads_per_user
        ))
    })?;
    let _slot = state
        .upload_slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| AppError::Unavailable("too many uploads are in progress; try again".into()))?;
    // The upload belongs to the connection that is up now: if it drops
    // before the last chunk, the upload fails instead of going on, half-sent,
    // on the next one.
    let core = state.link.session().ok_or(LinkError::Down)?;

    let mut csrf_ok = false;
    let mut to = None;
    let mut file = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(e, limit))?
    {
        match field.name() {
            Some("csrf") => {
                let given = small_field(field, limit).await?;
                csrf_ok = auth::csrf_matches(&session.csrf, &given);
            }
            Some("to") => to = Some(small_field(field, limit).await?),
            Some("file") => {
                if !csrf_ok {
                    return Err(AppError::Forbidden(
                        "the upload was not sent from the chat page (missing or wrong CSRF token)",
                    ));
                }
                file = Some(spool_field(state, field, limit).await?);
            }
            // Unknown fields are skipped unread.
            _ => {}
        }
    }
    if !csrf_ok {
        return Err(AppError::Forbidden(
            "the upload was not sent from the chat page (missing or wrong CSRF token)",
        ));
    }
    let file = file
        .filter(|f| !f.name.is_empty() || f.size > 0)
        .ok_or_else(|| AppError::BadRequest("choose a file to send".into()))?;
    let target = match to.as_deref().map(str::trim) {
        None | Some("") | Some("room") | Some("all") => Target::Room,
        Some(name) => {
            validate_name(name).map_err(|e| AppError::BadRequest(format!("recipient: {e}")))?;
            Target::User(name.to_string())
        }
    };
    let name = if file.name.is_empty() {
        "upload".to_string()
    } else {
        file.name.clone()
    };
    send_to_core(state, &core, session.id, &file, &name, &target).await?;
    let to_text = match &target {
        Target::Room => "the room".to_string(),
        Target::User(u) => u.clone(),
    };
    Ok(format!(
        "Sent {name} ({}) to {to_text}.",
        human_size(file.size)
    ))
}

fn multipart_error(e: axum::extract::multipart::MultipartError, limit: u64) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::TooLarge { limit }
    } else {
        AppError::BadRequest(format!("the upload could not be read: {e}"))
    }
}

async fn small_field(mut field: Field<'_>, limit: u64) -> Result<String, AppError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
        if buf.len() + chunk.len() > SMALL_FIELD {
            return Err(AppError::BadRequest("a form field is too long".into()));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf).map_err(|_| AppError::BadRequest("a form field is not UTF-8".into()))
}

/// Streams the file part to a temporary file, hashing and counting.
async fn spool_field(
    state: &AppState,
    mut field: Field<'_>,
    limit: u64,
) -> Result<Received, AppError> {
    let name = safe_file_name(field.file_name().unwrap_or(""));
    let temp = TempUpload {
        path: state.spool.upload_path(),
    };
    let mut out = tokio::fs::File::create(&temp.path).await?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut head = Vec::with_capacity(SNIFF_LEN);
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
        size += chunk.len() as u64;
        if size > limit {
            return Err(AppError::TooLarge { limit });
        }
        if head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    let kind = if sniff_image(&head).is_some() {
        FileKind::Image
    } else {
        FileKind::File
    };
    Ok(Received {
        temp,
        name,
        size,
        sha256: hex::encode(hasher.finalize()),
        kind,
    })
}

/// Offers the file, waits for the core to accept, then streams the chunks.
async fn send_to_core(
    state: &AppState,
    core: &LinkSession,
    session: SessionId,
    file: &Received,
    name: &str,
    target: &Target,
) -> Result<(), AppError> {
    let (id, accepted, credit) = state
        .hub
        .begin_upload(session, name, state.file_window())
        .ok_or(LinkError::Down)?;
    let offer = ClientMsg::FileOffer {
        id,
        to: target.clone(),
        name: name.to_string(),
        size: file.size,
        sha256: file.sha256.clone(),
        kind: file.kind,
    };
    core.send(session, offer).await?;
    match tokio::time::timeout(OFFER_TIMEOUT, accepted).await {
        Ok(Ok(UploadReply::Accepted)) => {}
        Ok(Ok(UploadReply::Failed { message, .. })) => return Err(AppError::Refused(message)),
        Ok(Err(_)) => return Err(LinkError::Down.into()),
        Err(_) => {
            return Err(AppError::Unavailable(
                "the chat server did not accept the file in time".into(),
            ));
        }
    }
    let result = stream_chunks(core, session, id, file, &credit).await;
    if result.is_err() {
        // Best effort: the core discards what it got; the link may be gone.
        let _ = core.send(session, ClientMsg::FileCancel { id }).await;
    }
    result
}

async fn stream_chunks(
    core: &LinkSession,
    session: SessionId,
    id: u32,
    file: &Received,
    credit: &SendCredit,
) -> Result<(), AppError> {
    let mut input = tokio::fs::File::open(&file.temp.path).await?;
    let mut sent = 0u64;
    loop {
        let mut buf = BytesMut::with_capacity(CHUNK_SIZE);
        while buf.len() < CHUNK_SIZE {
            if input.read_buf(&mut buf).await? == 0 {
                break;
            }
        }
        if buf.is_empty() {
            break;
        }
        sent += buf.len() as u64;
        // Flow control: wait for credit. Closed: the transfer is over (every
        // recipient answered, or it failed); the notices say how.
        if credit.take(buf.len()).await.is_none() {
            return Ok(());
        }
        core.send_chunk(session, ClientMsg::FileChunk { id }, buf.freeze())
            .await?;
    }
    if sent != file.size {
        return Err(AppError::Internal(anyhow::anyhow!(
            "temporary upload changed size"
        )));
    }
    core.send_chunk(session, ClientMsg::FileEnd { id }, Default::default())
        .await?;
    Ok(())
}

/// The base name of what the browser sent, made safe by the rule every
/// client shares (`protocol::safe_file_name`). An empty name stays empty:
/// that, with no bytes, is a form sent without choosing a file.
pub fn safe_file_name(raw: &str) -> String {
    if raw.trim().is_empty() {
        return String::new();
    }
    protocol::safe_file_name(raw)
}

#[cfg(test)]
mod tests {
    use super::safe_file_name;

    #[test]
    fn file_names() {
        let check =
            |raw: &str, expected: &str| assert_eq!(safe_file_name(raw), expected, "{raw:?}");
        check("cat.png", "cat.png");
        check("C:\\Users\\me\\cat.png", "cat.png");
        check("../../etc/passwd", "passwd");
        check("a\u{7}b\n.txt", "ab.txt");
        check("..hidden", "hidden");
        check("", "");
        check("invoice\u{202e}gnp.exe", "invoicegnp.exe");
        check("<img src=x>.txt", "<img src=x>.txt");
        assert_eq!(safe_file_name(&"é".repeat(300)).len(), 200);
    }
}
