//! Second factors: TOTP keys (RFC 6238: SHA-1, 6 digits, 30 s, one step of skew, never the
//! same step twice), recovery codes, one-time codes by email or SMS, and trusted devices
//! that skip the second factor for a while. Admins can take a user's factors off.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tracing::instrument;
use zeroize::Zeroizing;

use super::kernel::authz::OrgAdmin;
use super::kernel::codes::code_digits;
use super::kernel::reauth::Proof;
use super::kernel::second_factors::{totp, ACTIVE};
use super::{Principal, Services};
use crate::audit::{AuditKind, ClientInfo};
use crate::crypto::ct_eq;
use crate::error::AuthError;
use crate::ids::UserId;
use crate::model::{MfaKey, TrustedDevice, User};

const PENDING: &str = "activation_pending";
const RECOVERY_CODES: usize = 10;

/// A new TOTP key: everything an authenticator app needs, shown once.
#[derive(Debug, Clone)]
pub struct NewTotpKey {
    /// The stored key.
    pub key: MfaKey,
    /// The secret, base32.
    pub secret_base32: String,
    /// `otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...`
    pub otpauth_uri: String,
    /// The URI as a QR code, SVG.
    pub qr_code_svg: String,
    /// The URI as a QR code, `data:image/png;base64,...`.
    pub qr_code_png: String,
}

/// The QR code of `text`, as SVG and as a PNG data URL.
fn qr_codes(text: &str) -> Result<(String, String), AuthError> {
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| AuthError::Internal(format!("qr: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    // PNG: the module matrix with a 4-module quiet zone, 6 pixels a module, grey-scale.
    let width = code.width();
    let colors = code.to_colors();
    let (quiet, scale) = (4, 6);
    let side = (width + 2 * quiet) * scale;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (x, y) = ((i % width + quiet) * scale, (i / width + quiet) * scale);
            for dy in 0..scale {
                let row = (y + dy) * side;
                pixels[row + x..row + x + scale].fill(0);
            }
        }
    }
    let mut png_bytes = Vec::new();
    {
        let side = u32::try_from(side).map_err(|_| AuthError::Internal("qr too large".into()))?;
        let mut encoder = png::Encoder::new(&mut png_bytes, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| AuthError::Internal(format!("png: {e}")))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| AuthError::Internal(format!("png: {e}")))?;
        writer
            .finish()
            .map_err(|e| AuthError::Internal(format!("png: {e}")))?;
    }
    let mut url = String::from("data:image/png;base64,");
    url.push_str(&STANDARD.encode(&png_bytes));
    Ok((svg, url))
}

impl Services {
    /// Ten fresh recovery codes (`xxxx-xxxx`, 40 bits each) and their hashes.
    fn new_recovery_codes(&self, user: UserId) -> (Vec<String>, Vec<String>) {
        const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| {
                let mut raw = [0u8; 8];
                self.rng.fill(&mut raw);
                let chars: String = raw
                    .iter()
                    .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
                    .collect();
                format!("{}-{}", &chars[..4], &chars[4..])
            })
            .collect();
        let hashes = codes.iter().map(|c| self.recovery_hash(user, c)).collect();
        (codes, hashes)
    }

    /// Makes a TOTP key, pending activation.
    #[instrument(skip_all, fields(user.id = %who.user.id))]
    pub async fn create_mfa_key(
        &self,
        who: &Principal,
        kind: &str,
        proof: Proof<'_>,
        client: &ClientInfo,
    ) -> Result<NewTotpKey, AuthError> {
        if who.user.anonymous {
            return Err(AuthError::Forbidden(
                "a guest account cannot enrol a second factor; upgrade it first",
            ));
        }
        if kind != "totp" {
            return Err(AuthError::invalid("type", "must be totp"));
        }
        self.reauth(who, proof, client).await?;
        let mut secret = Zeroizing::new([0u8; 20]);
        self.rng.fill(secret.as_mut());
        let key = MfaKey {
            id: uuid::Uuid::now_v7(),
            user_id: who.user.id,
            kind: "totp".to_owned(),
            status: PENDING.to_owned(),
            created_at: self.now(),
            activated_at: None,
        };
        self.changed(
            self.event(AuditKind::MfaKeyCreated, who.user.org_id, client)
                .user(who.user.id)
                .actor(who.user.id),
            self.store
                .insert_mfa_key(&key, &self.master.seal(self.rng.as_ref(), secret.as_ref())),
            |_| true,
        )
        .await?;
        self.shown_key(who, key, secret.as_ref()).await
    }

    /// A key still waiting for activation, shown again (its QR code and secret), so that a
    /// wrong first code does not mean starting over.
    pub async fn pending_mfa_key(
        &self,
        who: &Principal,
        id: uuid::Uuid,
    ) -> Result<NewTotpKey, AuthError> {
        let (key, sealed) = self
            .store
            .mfa_keys(who.user.id)
            .await?
            .into_iter()
            .find(|(k, _)| k.id == id && k.status == PENDING)
            .ok_or(AuthError::NotFound)?;
        let secret = self
            .master
            .open(&sealed)
            .map_err(|_| AuthError::Internal("unreadable TOTP secret".into()))?;
        self.shown_key(who, key, &secret).await
    }

    /// What an authenticator app needs of a key: the secret, the otpauth URI, QR codes.
    async fn shown_key(
        &self,
        who: &Principal,
        key: MfaKey,
        secret: &[u8],
    ) -> Result<NewTotpKey, AuthError> {
        let org = self.org(Some(&who.user.org_slug)).await?;
        let account = who
            .user
            .email
            .clone()
            .or_else(|| who.user.username.clone())
            .or_else(|| who.user.phone.clone())
            .unwrap_or_default();
        let t = totp(secret.to_vec(), &org.name, &account)?;
        let otpauth_uri = t.get_url();
        let (qr_code_svg, qr_code_png) = qr_codes(&otpauth_uri)?;
        Ok(NewTotpKey {
            key,
            secret_base32: t.get_secret_base32(),
            otpauth_uri,
            qr_code_svg,
            qr_code_png,
        })
    }

    /// Activates a pending key with a current code; answers it and ten recovery codes
    /// (shown this once).
    #[instrument(skip_all, fields(user.id = %who.user.id))]
    pub async fn activate_mfa_key(
        &self,
        who: &Principal,
        id: uuid::Uuid,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(MfaKey, Vec<String>), AuthError> {
        let (key, sealed) = self
            .store
            .mfa_keys(who.user.id)
            .await?
            .into_iter()
            .find(|(k, _)| k.id == id)
            .ok_or(AuthError::NotFound)?;
        if key.status != PENDING {
            return Err(AuthError::invalid("code", "this key is already active"));
        }
        let code = code_digits(Some(code))?;
        let step = self
            .totp_step(&sealed, &code)?
            .ok_or(AuthError::CodeInvalid)?;
        let (codes, hashes) = self.new_recovery_codes(who.user.id);
        let enabled = self
            .event(AuditKind::MfaEnabled, who.user.org_id, client)
            .user(who.user.id)
            .actor(who.user.id);
        let change = self
            .store
            .activate_mfa_key(who.user.id, id, step, &hashes, self.now());
        if !self.changed(enabled, change, |done| *done).await? {
            return Err(AuthError::NotFound);
        }
        self.send_notice(
            &who.user,
            "A second factor (authenticator app) was added to your account.",
        )
        .await;
        let key = MfaKey {
            status: ACTIVE.to_owned(),
            activated_at: Some(self.now()),
            ..key
        };
        Ok((key, codes))
    }

    /// The caller's key pending activation whose secret is `secret_base32` (the DeepAffex
    /// dialect activates by secret, not by id). Compared in constant time.
    pub async fn pending_mfa_key_with_secret(
        &self,
        who: &Principal,
        secret_base32: &str,
    ) -> Result<uuid::Uuid, AuthError> {
        let given: String = secret_base32
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '=')
            .collect::<String>()
            .to_ascii_uppercase();
        for (key, sealed) in self.store.mfa_keys(who.user.id).await? {
            if key.status != PENDING {
                continue;
            }
            let secret = self
                .master
                .open(&sealed)
                .map_err(|_| AuthError::Internal("unreadable TOTP secret".into()))?;
            let stored = Zeroizing::new(totp(secret.to_vec(), "x", "x")?.get_secret_base32());
            if ct_eq(stored.trim_end_matches('=').as_bytes(), given.as_bytes()) {
                return Ok(key.id);
            }
        }
        Err(AuthError::invalid(
            "secret",
            "is not the secret of a key waiting for activation",
        ))
    }

    /// A user's keys (never their secrets).
    pub async fn mfa_keys_of(&self, user: UserId) -> Result<Vec<MfaKey>, AuthError> {
        Ok(self
            .store
            .mfa_keys(user)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    async fn remove_key(
        &self,
        user: &User,
        id: uuid::Uuid,
        actor: UserId,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let removed = self
            .remove_factor(
                user,
                self.event(AuditKind::MfaKeyDeleted, user.org_id, client)
                    .user(user.id)
                    .actor(actor),
                "A second factor was removed from your account.",
                self.store.delete_mfa_key(user.id, id),
                |done| *done,
            )
            .await?;
        if !removed {
            return Err(AuthError::NotFound);
        }
        Ok(())
    }

    async fn remove_all_factors(
        &self,
        user: &User,
        actor: UserId,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        self.remove_factor(
            user,
            self.event(AuditKind::MfaDisabled, user.org_id, client)
                .user(user.id)
                .actor(actor),
            "Two-step sign-in was turned off for your account.",
            self.store.disable_mfa(user.id),
            |()| true,
        )
        .await
    }

    /// Deletes one of the caller's keys after re-authentication.
    pub async fn delete_my_mfa_key(
        &self,
        who: &Principal,
        id: uuid::Uuid,
        proof: Proof<'_>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        self.reauth(who, proof, client).await?;
        self.remove_key(&who.user, id, who.user.id, client).await
    }

    /// Turns every second factor of the caller off after re-authentication.
    pub async fn disable_my_mfa(
        &self,
        who: &Principal,
        proof: Proof<'_>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        self.reauth(who, proof, client).await?;
        self.remove_all_factors(&who.user, who.user.id, client)
            .await
    }

    /// New recovery codes for the caller; the old ones die.
    pub async fn regenerate_recovery_codes(
        &self,
        who: &Principal,
        password: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Vec<String>, AuthError> {
        self.reauth(who, Proof::password(password), client).await?;
        let user = self
            .store
            .user_by_id(who.user.id)
            .await?
            .ok_or(AuthError::NotFound)?;
        if !user.mfa_enabled {
            return Err(AuthError::invalid(
                "password",
                "two-step sign-in is not on for this account",
            ));
        }
        let (codes, hashes) = self.new_recovery_codes(user.id);
        self.changed(
            self.event(AuditKind::RecoveryCodesRegenerated, user.org_id, client)
                .user(user.id)
                .actor(user.id),
            self.store.replace_recovery_codes(user.id, &hashes),
            |_| true,
        )
        .await?;
        Ok(codes)
    }

    /// An admin takes every second factor of a user off.
    pub async fn admin_disable_mfa(
        &self,
        admin: &OrgAdmin,
        id: UserId,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let user = self.managed_user(admin, id).await?;
        self.remove_all_factors(&user, admin.actor().user.id, client)
            .await
    }

    /// An admin deletes one key of a user.
    pub async fn admin_delete_mfa_key(
        &self,
        admin: &OrgAdmin,
        id: UserId,
        key: uuid::Uuid,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let user = self.managed_user(admin, id).await?;
        self.remove_key(&user, key, admin.actor().user.id, client)
            .await
    }

    /// A user's trusted devices (own, or an admin's view).
    pub async fn trusted_devices_of(&self, user: UserId) -> Result<Vec<TrustedDevice>, AuthError> {
        Ok(self.store.list_trusted_devices(user, self.now()).await?)
    }

    /// Removes a trusted device of `user`.
    pub async fn remove_trusted_device(
        &self,
        user: &User,
        id: uuid::Uuid,
        actor: UserId,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let done = self
            .changed(
                self.event(AuditKind::TrustedDeviceRemoved, user.org_id, client)
                    .user(user.id)
                    .actor(actor),
                self.store.delete_trusted_device(user.id, id),
                |done| *done,
            )
            .await?;
        if !done {
            return Err(AuthError::NotFound);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_codes_render() {
        let (svg, png) =
            qr_codes("otpauth://totp/Acme:ann%40example.com?secret=ABC&issuer=Acme").unwrap();
        assert!(svg.contains("<svg") && png.starts_with("data:image/png;base64,iVBORw0KGgo"));
    }
}
