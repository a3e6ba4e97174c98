//! The conference API's errors: each one a status, a stable kind and a message for people,
//! sent as `{"error": kind, "message": …}`.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::control::ControlError;
use crate::meeting::MeetingError;
use crate::models::ErrorBody;
use crate::tokens::TokenError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("No meeting has this code. Check it with the person who invited you.")]
    NoSuchMeeting,
    #[error("{0}")]
    NotFound(String),
    #[error("The meeting is locked: nobody new can join")]
    Locked,
    #[error("Too many attempts with wrong codes; try again in {} s", .0.as_secs())]
    RateLimited(Duration),
    #[error("The meeting's room server failed: {0}")]
    RoomServer(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::Locked => StatusCode::FORBIDDEN,
            Self::NoSuchMeeting | Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::RoomServer(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable identifier clients branch on.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid-request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NoSuchMeeting => "no-such-meeting",
            Self::NotFound(_) => "not-found",
            Self::Locked => "locked",
            Self::RateLimited(_) => "rate-limited",
            Self::RoomServer(_) => "room-server",
            Self::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.kind().to_owned(),
            message: self.to_string(),
        };
        let mut response = crate::service::json_response(self.status(), &body);
        if let Self::RateLimited(wait) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
        }
        response
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::MissingGrant(_) => Self::Forbidden(error.to_string()),
            _ => Self::Unauthorized(error.to_string()),
        }
    }
}

impl From<MeetingError> for ApiError {
    fn from(error: MeetingError) -> Self {
        match error {
            MeetingError::Locked => Self::Locked,
            MeetingError::Ended => Self::NoSuchMeeting,
            MeetingError::NotWaiting(_) | MeetingError::UnknownParticipant(_) => {
                Self::NotFound(error.to_string())
            }
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(error: ControlError) -> Self {
        Self::RoomServer(error.to_string())
    }
}
