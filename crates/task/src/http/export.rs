//! `GET /v2/export?format=json|csv`: everything the task context holds of the member (GDPR art. 20), as one JSON
//! document or a ZIP of CSV files, streamed (docs/integrations.md#export).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use pinit_kernel::extract::Query;
use pinit_kernel::{ApiError, CurrentMember};
use serde::Deserialize;

use super::dto::Problems;
use crate::app::TaskApp;
use crate::domain::MemberId;
use crate::domain::export::ExportFormat;

#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    format: Option<String>,
}

impl ExportQuery {
    /// `json` when absent; another value than `json` or `csv` is a 400 naming both.
    fn format(&self) -> Result<ExportFormat, ApiError> {
        let Some(value) = self.format.as_deref() else {
            return Ok(ExportFormat::Json);
        };
        let mut p = Problems::new();
        p.check("format", value, ExportFormat::parse(value))
            .ok_or_else(|| p.into_error())
    }
}

pub async fn export(
    State(app): State<TaskApp>,
    CurrentMember(member): CurrentMember<MemberId>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let format = q.format()?;
    let export = app.export(member).await?;
    let day = export.member().zone.local_date(export.at());
    let disposition = format!("attachment; filename=\"{}\"", format.file_name(day));
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        ),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::try_from(disposition).map_err(|e| ApiError::internal(&e))?,
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    Ok((headers, crate::export::body(export, format)).into_response())
}
