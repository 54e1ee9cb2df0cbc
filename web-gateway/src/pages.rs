//! The HTML pages (askama templates in the top-level `templates/`): the join
//! page, the chat page, and leaving.

use std::time::Duration;

use askama::Template;
use axum::{
    Extension, Form,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use protocol::{ClientKind, ClientMsg, ErrorCode, validate_name};
use serde::Deserialize;

use protocol::human_size;

use crate::{
    AppState, auth, error::AppError, link::LinkError, listener::ClientAddr, sessions::JoinError,
    visible::visible,
};

/// How long the join page waits for the core's welcome.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Template)]
#[template(path = "join.html")]
struct JoinPage<'a> {
    name: &'a str,
    error: Option<&'a str>,
}

/// A user as the chat page lists them.
struct UserRow {
    name: String,
    kind: &'static str,
}

#[derive(Template)]
#[template(path = "chat.html")]
struct ChatPage<'a> {
    name: &'a str,
    csrf: &'a str,
    users: Vec<UserRow>,
    notice: Option<String>,
    max_upload: String,
}

fn render(page: impl Template, status: StatusCode) -> Result<Response, AppError> {
    // Pages carry the CSRF token and the user's name: never cached.
    Ok((
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Html(page.render()?),
    )
        .into_response())
}

fn join_error(name: &str, error: &str, status: StatusCode) -> Result<Response, AppError> {
    render(
        JoinPage {
            name,
            error: Some(error),
        },
        status,
    )
}

/// `GET /`: the join page, or the chat for someone already in.
pub async fn join_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if auth::session(&state, &headers).is_some() {
        return Ok(Redirect::to("/chat").into_response());
    }
    render(
        JoinPage {
            name: "",
            error: None,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct JoinForm {
    name: String,
}

/// `POST /join`: take a name in the room. Errors are shown on the join page.
pub async fn join(
    State(state): State<AppState>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    Form(form): Form<JoinForm>,
) -> Result<Response, AppError> {
    if !auth::origin_allowed(&headers, &state.config.allowed_origins) {
        return Err(AppError::Forbidden("cross-origin request refused"));
    }
    let name = form.name.trim();
    let client = client.map(|Extension(ClientAddr(ip))| ip);
    if let Some(ip) = client
        && !state.join_rate.allow(ip)
    {
        tracing::info!(%ip, "join refused: too many from this address");
        return join_error(
            name,
            &format!(
                "Too many joins from your address (at most {} a minute). Try again in a minute.",
                state.config.joins_per_minute
            ),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    if let Err(e) = validate_name(name) {
        return join_error(name, &e.to_string(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let Some(core) = state.link.session() else {
        return join_error(
            name,
            "The chat server cannot be reached right now (the gateway is reconnecting). Try again in a moment.",
            StatusCode::SERVICE_UNAVAILABLE,
        );
    };
    let addr = client.map(|ip| ip.to_string());
    let pending = match state.hub.begin_join(name, addr.clone()) {
        Ok(pending) => pending,
        Err(e) => return join_error(name, &e.to_string(), StatusCode::SERVICE_UNAVAILABLE),
    };
    let id = pending.info.id;
    let join = ClientMsg::Join {
        name: name.to_string(),
        since: None,
        addr,
    };
    // Bound to this connection: if it drops first, the join fails here and is
    // not replayed on the next one for a session that no longer exists.
    if core.send(id, join).await.is_err() {
        state.hub.end_session(id, "join failed");
        // Whether the link is down or already on another connection, the
        // user's advice is the same.
        return join_error(
            name,
            &LinkError::Down.to_string(),
            StatusCode::SERVICE_UNAVAILABLE,
        );
    }
    let outcome = match tokio::time::timeout(JOIN_TIMEOUT, pending.welcome).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => Err(JoinError::LinkDown),
        Err(_) => {
            // A late welcome finds no session and is answered with quit.
            state.hub.end_session(id, "join timed out");
            return join_error(
                name,
                "The chat server did not answer in time. Try again.",
                StatusCode::GATEWAY_TIMEOUT,
            );
        }
    };
    match outcome {
        Ok(()) => {
            tracing::info!(user = %name, "web user joined");
            Ok((
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, "/chat".to_string()),
                    (
                        header::SET_COOKIE,
                        auth::set_cookie(&pending.cookie, state.config.secure_cookie),
                    ),
                ],
            )
                .into_response())
        }
        Err(JoinError::Refused {
            code: ErrorCode::NameTaken,
            ..
        }) => join_error(
            name,
            &format!(
                "The name {name} is already taken (names are case-insensitive). Choose another."
            ),
            StatusCode::CONFLICT,
        ),
        Err(JoinError::Refused { message, .. }) => {
            join_error(name, &message, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => join_error(name, &e.to_string(), StatusCode::SERVICE_UNAVAILABLE),
    }
}

/// `GET /chat`: the chat page.
pub async fn chat_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let session = auth::session(&state, &headers).ok_or(AppError::NoSession)?;
    let users = state
        .hub
        .users()
        .into_iter()
        .filter(|u| !u.name.eq_ignore_ascii_case(&session.name))
        .map(|u| UserRow {
            name: u.name,
            kind: match u.kind {
                ClientKind::Terminal => "terminal",
                ClientKind::Web => "web",
            },
        })
        .collect();
    render(
        ChatPage {
            name: &session.name,
            csrf: &session.csrf,
            users,
            notice: state.hub.take_flash(session.id).map(|n| visible(&n)),
            max_upload: human_size(state.max_upload()),
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct LeaveForm {
    csrf: String,
}

/// `POST /leave`: end the session, free the name.
pub async fn leave(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LeaveForm>,
) -> Result<Response, AppError> {
    let session = auth::session(&state, &headers).ok_or(AppError::NoSession)?;
    if !auth::origin_allowed(&headers, &state.config.allowed_origins)
        || !auth::csrf_matches(&session.csrf, &form.csrf)
    {
        return Err(AppError::Forbidden(
            "the form was not sent from the chat page",
        ));
    }
    state.end_session(session.id, "you left the chat");
    tracing::info!(user = %session.name, "web user left");
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/".to_string()),
            (header::SET_COOKIE, auth::clear_cookie()),
        ],
    )
        .into_response())
}

/// `GET /api/session`: whether the cookie still names a session (the page asks
/// before reconnecting a refused WebSocket). 200 `{"name":…}` or 401.
pub async fn session_status(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match auth::session(&state, &headers) {
        Some(session) => axum::Json(serde_json::json!({"name": session.name})).into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"error": "no session"})),
        )
            .into_response(),
    }
}
