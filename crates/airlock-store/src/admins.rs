//! The dashboard's people: admin users (a name, an argon2 hash of the
//! password made by the caller, a role) and their signed-in sessions,
//! found by the SHA-256 of the session token the browser holds. Creating
//! and deleting users is audited like any tenancy change.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{QueryBuilder, Row};

use crate::database::on_pool;
use crate::tenancy::{Change, now_ms, record_change};
use crate::{Actor, Store, StoreError};

/// What a signed-in person may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    /// Reads everything, changes nothing.
    Viewer,
    /// Also changes projects, keys and the gateway's state.
    Operator,
    /// Also manages admin users.
    Admin,
}

impl AdminRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Viewer => "viewer",
            AdminRole::Operator => "operator",
            AdminRole::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<AdminRole> {
        match text {
            "viewer" => Some(AdminRole::Viewer),
            "operator" => Some(AdminRole::Operator),
            "admin" => Some(AdminRole::Admin),
            _ => None,
        }
    }

    fn stored(text: &str) -> Result<AdminRole, StoreError> {
        Self::parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown admin role {text}")))
    }
}

/// An admin user as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdminUser {
    pub username: String,
    #[serde(skip)]
    pub password_hash: String,
    pub role: AdminRole,
    pub created_at_ms: i64,
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminSession {
    pub username: String,
    pub role: AdminRole,
    /// What the browser must echo in `x-csrf-token` to change anything.
    pub csrf_token: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

impl Store {
    /// Adds an admin user; a taken name is a conflict.
    pub async fn create_admin_user(
        &self,
        username: &str,
        password_hash: &str,
        role: AdminRole,
        actor: &Actor,
    ) -> Result<AdminUser, StoreError> {
        if self.admin_user(username).await?.is_some() {
            return Err(StoreError::Conflict);
        }
        let user = AdminUser {
            username: username.to_string(),
            password_hash: password_hash.to_string(),
            role,
            created_at_ms: now_ms(),
        };
        on_pool!(&self.pools, pool => {
            let mut tx = pool.begin().await?;
            let mut insert = QueryBuilder::new(
                "INSERT INTO admin_users (username, password_hash, role, created_at_ms) ",
            );
            insert.push_values([&user], |mut row, user| {
                row.push_bind(user.username.clone())
                    .push_bind(user.password_hash.clone())
                    .push_bind(user.role.as_str())
                    .push_bind(user.created_at_ms);
            });
            insert.build().execute(&mut *tx).await?;
            let change = Change {
                action: "admin_user.create",
                target: username,
                before: None,
                after: Some(json!({"username": username, "role": role})),
            };
            record_change!(tx, actor, change);
            tx.commit().await?;
        });
        Ok(user)
    }

    /// Deletes an admin user and signs out its sessions.
    pub async fn delete_admin_user(&self, username: &str, actor: &Actor) -> Result<(), StoreError> {
        let before = self
            .admin_user(username)
            .await?
            .ok_or(StoreError::NotFound)?;
        on_pool!(&self.pools, pool => {
            let mut tx = pool.begin().await?;
            for table in ["admin_sessions", "admin_users"] {
                let mut delete = QueryBuilder::new(format!("DELETE FROM {table} WHERE username = "));
                delete.push_bind(username.to_string());
                delete.build().execute(&mut *tx).await?;
            }
            let change = Change {
                action: "admin_user.delete",
                target: username,
                before: Some(json!({"username": username, "role": before.role})),
                after: None,
            };
            record_change!(tx, actor, change);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn admin_user(&self, username: &str) -> Result<Option<AdminUser>, StoreError> {
        let users = self.admin_users_where(Some(username)).await?;
        Ok(users.into_iter().next())
    }

    /// Every admin user, by name.
    pub async fn admin_users(&self) -> Result<Vec<AdminUser>, StoreError> {
        self.admin_users_where(None).await
    }

    async fn admin_users_where(
        &self,
        username: Option<&str>,
    ) -> Result<Vec<AdminUser>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "SELECT username, password_hash, role, created_at_ms FROM admin_users",
            );
            if let Some(username) = username {
                query.push(" WHERE username = ").push_bind(username.to_string());
            }
            query.push(" ORDER BY username");
            let rows = query.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    Ok(AdminUser {
                        username: row.try_get(0)?,
                        password_hash: row.try_get(1)?,
                        role: AdminRole::stored(&row.try_get::<String, _>(2)?)?,
                        created_at_ms: row.try_get(3)?,
                    })
                })
                .collect()
        })
    }

    /// Stores a new session under its token's digest, and forgets expired ones.
    pub async fn create_admin_session(
        &self,
        token_sha256: &str,
        session: &AdminSession,
    ) -> Result<(), StoreError> {
        on_pool!(&self.pools, pool => {
            let mut tx = pool.begin().await?;
            let mut purge = QueryBuilder::new("DELETE FROM admin_sessions WHERE expires_at_ms <= ");
            purge.push_bind(now_ms());
            purge.build().execute(&mut *tx).await?;
            let mut insert = QueryBuilder::new(
                "INSERT INTO admin_sessions (token_sha256, username, role, csrf_token, created_at_ms, expires_at_ms) ",
            );
            insert.push_values([session], |mut row, session| {
                row.push_bind(token_sha256.to_string())
                    .push_bind(session.username.clone())
                    .push_bind(session.role.as_str())
                    .push_bind(session.csrf_token.clone())
                    .push_bind(session.created_at_ms)
                    .push_bind(session.expires_at_ms);
            });
            insert.build().execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The session stored under a token's digest (expired or not).
    pub async fn admin_session(
        &self,
        token_sha256: &str,
    ) -> Result<Option<AdminSession>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "SELECT username, role, csrf_token, created_at_ms, expires_at_ms FROM admin_sessions WHERE token_sha256 = ",
            );
            query.push_bind(token_sha256.to_string());
            let row = query.build().fetch_optional(pool).await?;
            row.map(|row| {
                Ok(AdminSession {
                    username: row.try_get(0)?,
                    role: AdminRole::stored(&row.try_get::<String, _>(1)?)?,
                    csrf_token: row.try_get(2)?,
                    created_at_ms: row.try_get(3)?,
                    expires_at_ms: row.try_get(4)?,
                })
            })
            .transpose()
        })
    }

    /// Signs a session out.
    pub async fn delete_admin_session(&self, token_sha256: &str) -> Result<(), StoreError> {
        on_pool!(&self.pools, pool => {
            let mut delete = QueryBuilder::new("DELETE FROM admin_sessions WHERE token_sha256 = ");
            delete.push_bind(token_sha256.to_string());
            delete.build().execute(pool).await?;
        });
        Ok(())
    }
}
