//! Second factors: TOTP keys, recovery codes and trusted devices. Written once, compiled for each
//! backend (see [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::ids::UserId;
use portcullis_core::model::{MfaKey, TrustedDevice};
use portcullis_core::store::{Enrolled, SecondFactorStore, StoreError};

use crate::pooled::Tx;
use crate::rows::{
    db_err, ms, MfaKeyRow, TrustedDeviceRow, MFA_KEY_COLUMNS, TRUSTED_DEVICE_COLUMNS,
};

use super::{Db, This, BEGIN};
use crate::sql::begin;

impl This {
    pub(super) async fn write_recovery_codes(
        tx: &mut Tx<Db>,
        user_id: &str,
        hashes: &[String],
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        for h in hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user_id)
                .bind(h)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    /// MFA off for a user: the flag, recovery codes and trusted devices.
    pub(super) async fn mfa_off(tx: &mut Tx<Db>, user_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET mfa_enabled = $1 WHERE id = $2")
            .bind(false)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        for table in ["recovery_codes", "trusted_devices"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }
}

#[async_trait]
impl SecondFactorStore for This {
    async fn second_factors(&self, user_id: UserId) -> Result<Enrolled, StoreError> {
        let (totp, passkey) = sqlx::query_as::<_, (bool, bool)>(
            "SELECT EXISTS (SELECT 1 FROM mfa_keys WHERE user_id = $1 AND status = 'active'), \
                    EXISTS (SELECT 1 FROM passkeys WHERE user_id = $1)",
        )
        .bind(user_id.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(Enrolled { totp, passkey })
    }

    async fn insert_mfa_key(&self, key: &MfaKey, secret_sealed: &str) -> Result<(), StoreError> {
        self.write_one(
sqlx::query(
            "INSERT INTO mfa_keys (id, user_id, kind, secret_sealed, status, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.id.to_string())
        .bind(key.user_id.to_string())
        .bind(&key.kind)
        .bind(secret_sealed)
        .bind(&key.status)
        .bind(ms(key.created_at)),
        )
        .await?;
        Ok(())
    }

    async fn mfa_keys(&self, user_id: UserId) -> Result<Vec<(MfaKey, String)>, StoreError> {
        let sql = format!("SELECT {MFA_KEY_COLUMNS} WHERE user_id = $1 ORDER BY id");
        sqlx::query_as::<_, MfaKeyRow>(&sql)
            .bind(user_id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(MfaKeyRow::into_key)
            .collect()
    }

    async fn activate_mfa_key(
        &self,
        user_id: UserId,
        id: uuid::Uuid,
        step: i64,
        recovery_hashes: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let uid = user_id.to_string();
        let mut tx = begin(&self.writer, BEGIN).await?;
        let done = sqlx::query(
            "UPDATE mfa_keys SET status = 'active', activated_at = $1, last_step = $2 \
             WHERE id = $3 AND user_id = $4 AND status = 'activation_pending'",
        )
        .bind(ms(now))
        .bind(step)
        .bind(id.to_string())
        .bind(&uid)
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE users SET mfa_enabled = $1, updated_at = $2 WHERE id = $3")
            .bind(true)
            .bind(ms(now))
            .bind(&uid)
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        Self::write_recovery_codes(&mut tx, &uid, recovery_hashes).await?;
        super::audit::commit(tx).await?;
        Ok(true)
    }

    async fn use_totp_step(&self, id: uuid::Uuid, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE mfa_keys SET last_step = $1 WHERE id = $2 AND (last_step IS NULL OR last_step < $1)",
        )
        .bind(step)
        .bind(id.to_string())
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_mfa_key(&self, user_id: UserId, id: uuid::Uuid) -> Result<bool, StoreError> {
        let uid = user_id.to_string();
        let mut tx = begin(&self.writer, BEGIN).await?;
        let done = sqlx::query("DELETE FROM mfa_keys WHERE id = $1 AND user_id = $2")
            .bind(id.to_string())
            .bind(&uid)
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let active: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM mfa_keys WHERE user_id = $1 AND status = 'active'",
        )
        .bind(&uid)
        .fetch_one(&mut tx)
        .await
        .map_err(db_err)?;
        if active == 0 {
            Self::mfa_off(&mut tx, &uid).await?;
        }
        super::audit::commit(tx).await?;
        Ok(true)
    }

    async fn disable_mfa(&self, user_id: UserId) -> Result<(), StoreError> {
        let uid = user_id.to_string();
        let mut tx = begin(&self.writer, BEGIN).await?;
        sqlx::query("DELETE FROM mfa_keys WHERE user_id = $1")
            .bind(&uid)
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        Self::mfa_off(&mut tx, &uid).await?;
        super::audit::commit(tx).await
    }

    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        hashes: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        Self::write_recovery_codes(&mut tx, &user_id.to_string(), hashes).await?;
        super::audit::commit(tx).await
    }

    async fn use_recovery_code(
        &self,
        user_id: UserId,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(ms(now))
        .bind(user_id.to_string())
        .bind(hash)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_trusted_device(
        &self,
        d: &TrustedDevice,
        token_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO trusted_devices (id, user_id, token_hash, name, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(d.id.to_string())
        .bind(d.user_id.to_string())
        .bind(token_hash)
        .bind(&d.name)
        .bind(ms(d.created_at))
        .bind(ms(d.expires_at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn use_trusted_device(
        &self,
        user_id: UserId,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE trusted_devices SET last_used_at = $1 WHERE user_id = $2 AND token_hash = $3 AND expires_at > $1",
        )
        .bind(ms(now))
        .bind(user_id.to_string())
        .bind(token_hash)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_trusted_devices(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<TrustedDevice>, StoreError> {
        let sql = format!("SELECT {TRUSTED_DEVICE_COLUMNS} WHERE user_id = $1 AND expires_at > $2 ORDER BY id DESC");
        sqlx::query_as::<_, TrustedDeviceRow>(&sql)
            .bind(user_id.to_string())
            .bind(ms(now))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(TrustedDevice::try_from)
            .collect()
    }

    async fn delete_trusted_device(
        &self,
        user_id: UserId,
        id: uuid::Uuid,
    ) -> Result<bool, StoreError> {
        self.delete_owned("trusted_devices", "user_id", id, user_id.to_string())
            .await
    }
}
