//! [`DbRevocationStore`]: revocations in the application's database.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rustango_core::Column as _;
use rustango_macros::Model;
use rustango_orm::{Error, Pool};

use super::store::{RevocationStore, RevocationStoreError};

/// One revoked (or consumed) token id or token family: a row of `auth_jwt_revocation`,
/// the table behind [`DbRevocationStore`]. The auth app's migrations create it.
#[derive(Model, Clone, Debug)]
#[rustango(table = "auth_jwt_revocation", app = "auth")]
pub struct JwtRevocation {
    /// `jti:<token id>` or `fam:<family id>`.
    #[rustango(primary_key, max_length = 100)]
    pub key: String,
    /// When the entry may be forgotten: the revoked tokens have expired by then.
    #[rustango(index)]
    pub expires_at: DateTime<Utc>,
}

/// Revocations in the database (table `auth_jwt_revocation`, model [`JwtRevocation`]):
/// every instance on the same database sees them, and they survive restarts.
///
/// [`consume`](RevocationStore::consume) is a plain `INSERT` whose primary-key conflict
/// tells the losers apart, so exactly one caller wins on every backend and instance.
/// Expired rows are ignored by every query; delete them now and then with
/// [`purge_expired`](DbRevocationStore::purge_expired) (a scheduled job).
///
/// ```no_run
/// # async fn demo(pool: rustango_orm::Pool) {
/// use std::sync::Arc;
/// use rustango_auth::jwt_lifecycle::{DbRevocationStore, JwtLifecycle};
///
/// let store = Arc::new(DbRevocationStore::new(pool));
/// let jwt = JwtLifecycle::new(&[7; 32]).with_store(store.clone());
/// // In a nightly job:
/// let removed = store.purge_expired().await.unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DbRevocationStore {
    pool: Pool,
}

fn token_key(jti: &str) -> String {
    format!("jti:{jti}")
}

fn family_key(family: &str) -> String {
    format!("fam:{family}")
}

impl DbRevocationStore {
    /// A store on `pool`; the `auth_jwt_revocation` table must exist (run the auth app's
    /// migrations).
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Deletes the rows that have expired; returns how many.
    pub async fn purge_expired(&self) -> Result<u64, RevocationStoreError> {
        JwtRevocation::objects()
            .filter(JwtRevocation::expires_at.lte(Utc::now()))
            .delete(&self.pool)
            .await
            .map_err(RevocationStoreError::Database)
    }

    async fn insert(&self, key: &str, until: DateTime<Utc>) -> Result<bool, Error> {
        let row = JwtRevocation {
            key: key.to_owned(),
            expires_at: until,
        };
        match JwtRevocation::bulk_insert_on(&self.pool, vec![row]).await {
            Ok(_) => Ok(true),
            Err(Error::UniqueViolation { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Inserts `key`, or moves its expiry later if it exists with an earlier one.
    async fn upsert_later(&self, key: &str, until: DateTime<Utc>) -> Result<(), Error> {
        if self.insert(key, until).await? {
            return Ok(());
        }
        JwtRevocation::objects()
            .filter(JwtRevocation::key.eq(key))
            .filter(JwtRevocation::expires_at.lt(until))
            .update()
            .set(JwtRevocation::expires_at, until)
            .execute_on(&self.pool)
            .await?;
        Ok(())
    }

    async fn live(&self, keys: &[String]) -> Result<bool, RevocationStoreError> {
        JwtRevocation::objects()
            .filter(JwtRevocation::key.in_(keys))
            .filter(JwtRevocation::expires_at.gt(Utc::now()))
            .exists(&self.pool)
            .await
            .map_err(RevocationStoreError::Database)
    }
}

#[async_trait]
impl RevocationStore for DbRevocationStore {
    async fn revoke(&self, jti: &str, until: DateTime<Utc>) -> Result<(), RevocationStoreError> {
        self.upsert_later(&token_key(jti), until)
            .await
            .map_err(RevocationStoreError::Database)
    }

    async fn is_revoked(&self, jti: &str) -> Result<bool, RevocationStoreError> {
        self.live(&[token_key(jti)]).await
    }

    async fn revoke_family(
        &self,
        family: &str,
        until: DateTime<Utc>,
    ) -> Result<(), RevocationStoreError> {
        self.upsert_later(&family_key(family), until)
            .await
            .map_err(RevocationStoreError::Database)
    }

    async fn is_family_revoked(&self, family: &str) -> Result<bool, RevocationStoreError> {
        self.live(&[family_key(family)]).await
    }

    async fn consume(&self, jti: &str, until: DateTime<Utc>) -> Result<bool, RevocationStoreError> {
        let key = token_key(jti);
        let won = self
            .insert(&key, until)
            .await
            .map_err(RevocationStoreError::Database)?;
        if won {
            return Ok(true);
        }
        // A row that has expired but was not purged yet does not count: remove it (only
        // if still expired) and race for the insert again.
        let removed = JwtRevocation::objects()
            .filter(JwtRevocation::key.eq(key.as_str()))
            .filter(JwtRevocation::expires_at.lte(Utc::now()))
            .delete(&self.pool)
            .await
            .map_err(RevocationStoreError::Database)?;
        if removed == 0 {
            return Ok(false);
        }
        self.insert(&key, until)
            .await
            .map_err(RevocationStoreError::Database)
    }

    async fn is_token_revoked(
        &self,
        jti: &str,
        family: &str,
    ) -> Result<bool, RevocationStoreError> {
        self.live(&[token_key(jti), family_key(family)]).await
    }
}
