//! Extractors whose rejections are [`ApiError`]s, so malformed input is always a clear 400 in the
//! service's error shape (the reference answered many of these with 500), and the member a request is for.

use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// JSON body; parse failures are 400 (415 when the content type is wrong).
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Query string; parse failures are 400.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// Path parameters; parse failures are 400.
#[derive(Debug, Clone, Copy, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// The header that carries the member a request is for, from the gateway to the services. The gateway
/// removes it from every incoming request and sets it only from a verified access token, with an identity
/// assertion ([`crate::identity`]) without which the binary's services drop it.
pub const MEMBER_HEADER: &str = "x-member-id";

/// The message of a 401 for a request without a member (the reference's text; its client shows it).
pub const LOGIN_REQUIRED: &str = "인증이 필요합니다. 다시 로그인해 주세요.";

impl ApiError {
    /// 401: the request has no (valid) member; log in again.
    pub fn login_required() -> Self {
        ApiError::unauthorized(LOGIN_REQUIRED)
    }
}

/// The member a request is for: [`MEMBER_HEADER`], a positive 64-bit integer, as the context's member id
/// type (`CurrentMember<MemberId>`). Missing or malformed → 401 [`LOGIN_REQUIRED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentMember<Id = i64>(pub Id);

impl<S: Send + Sync, Id: From<i64>> FromRequestParts<S> for CurrentMember<Id> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get(MEMBER_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|id| *id > 0)
            .map(|id| CurrentMember(Id::from(id)))
            .ok_or_else(ApiError::login_required)
    }
}

/// The message of the 403 for an operation only a signed-in member may call, asked with an app password or an
/// API token.
pub const SESSION_REQUIRED: &str = "This needs the member's own sign-in: API tokens and app passwords cannot make tokens, change the password or delete the account.";

/// The member a request is for, who signed in themselves: the gateway verified an access token from a login
/// ([`Credential::Session`](crate::identity::Credential)), not an API token or an app password. The one rule
/// for what such credentials may never do — make or list tokens, change the password, delete the account:
/// those handlers take this instead of [`CurrentMember`]. No member → 401 [`LOGIN_REQUIRED`]; another
/// credential (or none recorded, i.e. not vouched for by [`crate::identity::vouched_members_only`]) → 403
/// [`SESSION_REQUIRED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionMember<Id = i64>(pub Id);

impl<S: Send + Sync, Id: From<i64>> FromRequestParts<S> for SessionMember<Id> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let CurrentMember(member) = CurrentMember::<Id>::from_request_parts(parts, state).await?;
        match parts.extensions.get::<crate::identity::Credential>() {
            Some(crate::identity::Credential::Session) => Ok(SessionMember(member)),
            _ => Err(ApiError::new(StatusCode::FORBIDDEN, SESSION_REQUIRED)),
        }
    }
}

/// 415 for a body that is not sent as JSON.
pub fn not_json() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type must be application/json.",
    )
}

/// Whether `headers` say the body is JSON (`application/json` or a `+json` type, any parameters).
pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .is_some_and(|t| {
            t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
        })
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => not_json(),
            JsonRejection::JsonDataError(e) => {
                ApiError::bad_request(format!("Invalid request body: {}", e.body_text()))
            }
            JsonRejection::JsonSyntaxError(e) => {
                ApiError::bad_request(format!("Malformed JSON: {}", e.body_text()))
            }
            other => ApiError::new(other.status(), other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request(format!(
            "Invalid query parameters: {}",
            rejection.body_text()
        ))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_request(format!("Invalid path parameter: {}", rejection.body_text()))
    }
}

/// A field of a JSON body that may be left out but, when given, must not be `null` (the documents say so):
/// plain `Option<T>` would take `null` as "left out" (a `PATCH` with `"title": null` answered 200). Use it
/// with `#[serde(default)]`; the handler reports [`Field::Null`] as a 400.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Present(T),
}

impl<T> Field<T> {
    /// The value, when one was given.
    pub fn get(&self) -> Option<&T> {
        match self {
            Field::Present(v) => Some(v),
            Field::Absent | Field::Null => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Field::Null)
    }

    pub fn into_option(self) -> Option<T> {
        match self {
            Field::Present(v) => Some(v),
            Field::Absent | Field::Null => None,
        }
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Field<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(deserializer)?.map_or(Field::Null, Field::Present))
    }
}

#[cfg(test)]
mod tests {
    use super::Field;

    #[derive(serde::Deserialize)]
    struct Patch {
        #[serde(default)]
        title: Field<String>,
    }

    #[test]
    fn absent_null_and_present_are_told_apart() {
        let read = |s: &str| serde_json::from_str::<Patch>(s).unwrap().title;
        assert_eq!(read("{}"), Field::Absent);
        assert_eq!(read(r#"{"title": null}"#), Field::Null);
        assert_eq!(read(r#"{"title": "a"}"#), Field::Present("a".to_owned()));
        assert!(read(r#"{"title": null}"#).is_null());
        assert_eq!(
            read(r#"{"title": "a"}"#).get().map(String::as_str),
            Some("a")
        );
        assert_eq!(read("{}").into_option(), None);
        assert!(serde_json::from_str::<Patch>(r#"{"title": 1}"#).is_err());
    }
}
