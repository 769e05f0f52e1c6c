//! Logged content (`request_content`): what a request said and what it
//! was answered, for projects that log content, stored under the request's
//! id beside its record. Redaction is the gateway's, before anything
//! reaches this module.

use sqlx::{FromRow, QueryBuilder};

use crate::database::on_pool;
use crate::{SealedColumn, Store, StoreError};

/// One request's logged content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, FromRow)]
pub struct RequestContent {
    /// The request's id, as its record and `x-request-id` say.
    pub id: String,
    pub project_id: Option<String>,
    pub end_user: Option<String>,
    pub created_at_ms: i64,
    /// The request's body, redacted.
    pub request: String,
    /// The answer's body (a stream's events as sent), redacted.
    pub response: String,
    /// Whether either was cut at the size kept.
    pub truncated: bool,
}

impl Store {
    /// Stores a request's content; a second write of the same id is
    /// ignored.
    pub async fn insert_request_content(&self, content: &RequestContent) -> Result<(), StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "INSERT INTO request_content \
                 (id, project_id, end_user, created_at_ms, request, response, truncated) VALUES (",
            );
            let mut values = query.separated(", ");
            values
                .push_bind(content.id.clone())
                .push_bind(content.project_id.clone())
                .push_bind(content.end_user.clone())
                .push_bind(content.created_at_ms)
                .push_bind(self.seal(SealedColumn::ContentRequest, content.request.clone()))
                .push_bind(self.seal(SealedColumn::ContentResponse, content.response.clone()))
                .push_bind(content.truncated);
            query.push(") ON CONFLICT (id) DO NOTHING");
            query.build().execute(pool).await?;
        });
        Ok(())
    }

    /// A request's logged content, if it was logged.
    pub async fn request_content(&self, id: &str) -> Result<Option<RequestContent>, StoreError> {
        let row = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "SELECT id, project_id, end_user, created_at_ms, request, response, truncated \
                 FROM request_content WHERE id = ",
            );
            query.push_bind(id.to_string());
            query.build_query_as::<RequestContent>().fetch_optional(pool).await?
        });
        row.map(|mut content| {
            content.request = self.unseal(SealedColumn::ContentRequest, content.request)?;
            content.response = self.unseal(SealedColumn::ContentResponse, content.response)?;
            Ok(content)
        })
        .transpose()
    }
}
