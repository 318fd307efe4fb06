//! Application tokens, licenses and the devices registered with them. Written once, compiled for
//! each backend (see [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::ids::UserId;
use portcullis_core::model::{AppToken, Device, License};
use portcullis_core::store::{attached_events, DeviceStore, Registration, StoreError};
use portcullis_core::AuditEvent;
use portcullis_core::OrgId;

use crate::rows::{
    db_err, ms, AppTokenRow, DeviceRow, LicenseRow, APP_TOKEN_COLUMNS, DEVICE_COLUMNS,
    LICENSE_COLUMNS,
};

use super::{This, BEGIN};
use crate::sql::begin;

#[async_trait]
impl DeviceStore for This {
    async fn insert_app_token(&self, t: &AppToken, token_hash: &str) -> Result<(), StoreError> {
        self.write_one(
sqlx::query(
            "INSERT INTO app_tokens (id, user_id, description, token_hash, prefix, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(t.id.to_string())
        .bind(t.user_id.to_string())
        .bind(&t.description)
        .bind(token_hash)
        .bind(&t.prefix)
        .bind(ms(t.created_at))
        .bind(t.expires_at.map(ms)),
        )
        .await?;
        Ok(())
    }

    async fn list_app_tokens(&self, user_id: UserId) -> Result<Vec<AppToken>, StoreError> {
        self.list_owned::<AppTokenRow, AppToken>(APP_TOKEN_COLUMNS, "user_id", user_id.to_string())
            .await
    }

    async fn delete_app_token(&self, user_id: UserId, id: uuid::Uuid) -> Result<bool, StoreError> {
        self.delete_owned("app_tokens", "user_id", id, user_id.to_string())
            .await
    }

    async fn use_app_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AppToken>, StoreError> {
        let sql = format!(
            "UPDATE app_tokens SET last_used_at = $1 WHERE token_hash = $2 RETURNING {}",
            APP_TOKEN_COLUMNS.trim_end_matches(" FROM app_tokens")
        );
        sqlx::query_as::<_, AppTokenRow>(&sql)
            .bind(ms(now))
            .bind(token_hash)
            .fetch_optional(&self.writer)
            .await
            .map_err(db_err)?
            .map(AppToken::try_from)
            .transpose()
    }

    async fn insert_license(&self, l: &License, key_hash: &str) -> Result<(), StoreError> {
        self.write_one(
sqlx::query(
            "INSERT INTO licenses (id, org_id, key_hash, prefix, max_devices, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(l.id.to_string())
        .bind(l.org_id.to_string())
        .bind(key_hash)
        .bind(&l.prefix)
        .bind(l.max_devices.map(i64::from))
        .bind(ms(l.created_at))
        .bind(l.expires_at.map(ms)),
        )
        .await?;
        Ok(())
    }

    async fn list_licenses(&self, org_id: OrgId) -> Result<Vec<License>, StoreError> {
        self.list_owned::<LicenseRow, License>(LICENSE_COLUMNS, "org_id", org_id.to_string())
            .await
    }

    async fn delete_license(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError> {
        self.delete_owned("licenses", "org_id", id, org_id.to_string())
            .await
    }

    async fn register_device(
        &self,
        key_hash: &str,
        device: &Device,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Registration, StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        // Takes a slot in one statement: the row lock (or SQLite's single writer)
        // makes concurrent registrations queue, and each re-checks the limit.
        let taken = sqlx::query_as::<_, (String, String)>(
            "UPDATE licenses SET device_count = device_count + 1 WHERE key_hash = $1 \
             AND (expires_at IS NULL OR expires_at > $2) \
             AND (max_devices IS NULL OR device_count < max_devices) RETURNING id, org_id",
        )
        .bind(key_hash)
        .bind(ms(now))
        .fetch_optional(&mut tx)
        .await
        .map_err(db_err)?;
        let Some((license_id, org_id)) = taken else {
            let why = sqlx::query_as::<_, (Option<i64>,)>(
                "SELECT expires_at FROM licenses WHERE key_hash = $1",
            )
            .bind(key_hash)
            .fetch_optional(&mut tx)
            .await
            .map_err(db_err)?;
            return Ok(match why {
                None => Registration::UnknownLicense,
                Some((Some(at),)) if at <= ms(now) => Registration::Expired,
                Some(_) => Registration::Full,
            });
        };
        sqlx::query(
            "INSERT INTO devices (id, org_id, license_id, name, device_type, identifier, token_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(device.id.to_string())
        .bind(&org_id)
        .bind(&license_id)
        .bind(&device.name)
        .bind(&device.device_type)
        .bind(&device.identifier)
        .bind(token_hash)
        .bind(ms(device.created_at))
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        let bad = |_| StoreError::Corrupt("id".into());
        let org: OrgId = org_id.parse().map_err(bad)?;
        // The events attached to a registration learn the license it took.
        let events = attached_events()
            .into_iter()
            .map(|e| AuditEvent {
                org_id: Some(org),
                ..e.detail("license_id", license_id.clone())
            })
            .collect();
        super::audit::commit_events(tx, events).await?;
        Ok(Registration::Registered(Device {
            org_id: org,
            license_id: license_id
                .parse()
                .map_err(|_| StoreError::Corrupt("id".into()))?,
            ..device.clone()
        }))
    }

    async fn use_device(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Device, Option<DateTime<Utc>>)>, StoreError> {
        let done = sqlx::query("UPDATE devices SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(ms(now))
            .bind(token_hash)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let sql = format!("SELECT {DEVICE_COLUMNS} WHERE d.token_hash = $1");
        let Some(row) = sqlx::query_as::<_, DeviceRow>(&sql)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
        else {
            return Ok(None);
        };
        let device = Device::try_from(row)?;
        let expiry =
            sqlx::query_scalar::<_, Option<i64>>("SELECT expires_at FROM licenses WHERE id = $1")
                .bind(device.license_id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .flatten()
                .map(crate::rows::time)
                .transpose()?;
        Ok(Some((device, expiry)))
    }

    async fn rotate_device_token(
        &self,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError> {
        let done = self
            .write_one(
                sqlx::query("UPDATE devices SET token_hash = $1 WHERE token_hash = $2")
                    .bind(new_hash)
                    .bind(old_hash),
            )
            .await?;
        Ok(done == 1)
    }

    async fn list_devices(&self, org_id: OrgId) -> Result<Vec<Device>, StoreError> {
        self.list_owned::<DeviceRow, Device>(DEVICE_COLUMNS, "d.org_id", org_id.to_string())
            .await
    }

    async fn delete_device(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        let license = sqlx::query_scalar::<_, String>(
            "DELETE FROM devices WHERE id = $1 AND org_id = $2 RETURNING license_id",
        )
        .bind(id.to_string())
        .bind(org_id.to_string())
        .fetch_optional(&mut tx)
        .await
        .map_err(db_err)?;
        let Some(license) = license else {
            return Ok(false);
        };
        sqlx::query("UPDATE licenses SET device_count = device_count - 1 WHERE id = $1 AND device_count > 0")
            .bind(&license)
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        super::audit::commit(tx).await?;
        Ok(true)
    }
}
