//! The error type of request handlers: each variant knows its HTTP status, and
//! the response is a small HTML page (or JSON, for the upload API) that says
//! what happened in words a user understands.

use askama::Template;
use axum::{
    Json,
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
};

use crate::link::LinkError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No (valid) session cookie: back to the join page.
    #[error("you are not in the chat; join first")]
    NoSession,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("the file is larger than the limit of {}", protocol::human_size(*.limit))]
    TooLarge { limit: u64 },
    /// The core refused something (no such user, file too large, …).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error("{0}")]
    Unavailable(String),
    /// Over a per-user or per-address limit: try again later.
    #[error("{0}")]
    TooMany(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NoSession => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Link(_) | AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The same error as JSON `{"ok":false,"error":"…"}` (for `fetch` callers).
    pub fn into_json(self) -> Response {
        if let AppError::Internal(e) = &self {
            tracing::error!(error = %e, "internal error");
        }
        let status = self.status();
        let body = serde_json::json!({"ok": false, "error": self.to_string()});
        (status, Json(body)).into_response()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    message: &'a str,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            AppError::NoSession => return Redirect::to("/").into_response(),
            AppError::Internal(e) => tracing::error!(error = %e, "internal error"),
            _ => {}
        }
        let status = self.status();
        let message = self.to_string();
        let page = ErrorPage {
            status: status.as_u16(),
            message: &message,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, message).into_response(),
        }
    }
}
