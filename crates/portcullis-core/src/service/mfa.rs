//! Second factors: TOTP keys (RFC 6238: SHA-1, 6 digits, 30 s, one step of skew, never the
//! same step twice), recovery codes, one-time codes by email or SMS, and trusted devices
//! that skip the second factor for a while. Admins can take a user's factors off.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, TOTP};
use tracing::instrument;
use zeroize::Zeroizing;

use super::admin::OrgAdmin;
use super::codes::{code_digits, notice_address, Purpose};
use super::{Principal, Services};
use crate::audit::{AuditKind, ClientInfo};
use crate::crypto::{ct_eq, hash_token, random_token};
use crate::error::AuthError;
use crate::identity::Address;
use crate::ids::UserId;
use crate::model::{MfaKey, TrustedDevice, User};
use crate::store::Enrolled;

/// The `amr` value of a session that may only enrol a second factor.
pub const ENROLMENT_ONLY: &str = "mfa_enrolment";
const PENDING: &str = "activation_pending";
const ACTIVE: &str = "active";
const STEP_SECS: i64 = 30;
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

/// What a caller presents, again, before a sensitive change to their account.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    /// The password, or a current TOTP code (what `/v1` asks for).
    Secret {
        /// The password.
        password: Option<&'a str>,
        /// A current TOTP code.
        mfa_code: Option<&'a str>,
    },
    /// The session was signed into within the organization's `recent_sign_in_secs` (ten
    /// minutes by default): for the reference dialects, whose clients send no secret for
    /// these changes.
    RecentSignIn,
    /// Nothing: only for calls that change nothing by themselves (DeepAffex's
    /// `createTwoFactorAuthSecret` makes a pending key, which takes effect only when a code
    /// from it activates it).
    Nothing,
}

impl<'a> Proof<'a> {
    /// The password alone.
    pub fn password(password: Option<&'a str>) -> Self {
        Self::Secret {
            password,
            mfa_code: None,
        }
    }
}

/// What a sign-in presented as its second factor.
#[derive(Debug, Default, Clone)]
pub struct SecondFactor {
    /// A TOTP code, or a code sent by `login/otp`.
    pub mfa_code: Option<String>,
    /// A recovery code.
    pub recovery_code: Option<String>,
    /// A trusted-device token from an earlier sign-in.
    pub trusted_device_token: Option<String>,
    /// Trust this device from now on.
    pub remember_device: bool,
    /// A passkey assertion (from `POST /v1/auth/passkey/start`).
    pub passkey: Option<super::PasskeyAssertion>,
}

/// The outcome of the second-factor check of a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Passed {
    /// The user has no second factor.
    NotNeeded,
    /// The user's organization requires one and the user has none: enrolment only.
    EnrolOnly,
    /// Proven; the `amr` value of how.
    By(&'static str),
}

fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> Result<TOTP, AuthError> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECS as u64,
        secret,
        Some(issuer.to_owned()),
        account.to_owned(),
    )
    .map_err(|e| AuthError::Internal(format!("totp: {e}")))
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

/// How codes are typed: case and separators do not matter.
fn normalise_recovery(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase()
}

impl Services {
    fn recovery_hash(&self, user: UserId, code: &str) -> String {
        let pepper = self.master.derive("recovery-code");
        let mut h = Sha256::new();
        h.update(pepper.as_ref());
        h.update(user.0.as_bytes());
        h.update(normalise_recovery(code).as_bytes());
        hex::encode(h.finalize())
    }

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

    /// The TOTP step a code matches (this step, or one either side), if any.
    fn totp_step(&self, sealed: &str, code: &str) -> Result<Option<i64>, AuthError> {
        let secret = self
            .master
            .open(sealed)
            .map_err(|_| AuthError::Internal("unreadable TOTP secret".into()))?;
        let t = totp(secret.to_vec(), "x", "x")?;
        let now = self.now().timestamp().div_euclid(STEP_SECS);
        for step in [now - 1, now, now + 1] {
            let expected = Zeroizing::new(t.generate(u64::try_from(step * STEP_SECS).unwrap_or(0)));
            if ct_eq(expected.as_bytes(), code.as_bytes()) {
                return Ok(Some(step));
            }
        }
        Ok(None)
    }

    /// Whether `code` is a current TOTP code of one of the user's active keys, used once.
    async fn check_totp(&self, user: &User, code: &str) -> Result<bool, AuthError> {
        for (key, sealed) in self.store.mfa_keys(user.id).await? {
            if key.status != ACTIVE {
                continue;
            }
            if let Some(step) = self.totp_step(&sealed, code)? {
                // A code seen before (this step or an earlier one) is a replay.
                return Ok(self.store.use_totp_step(key.id, step).await?);
            }
        }
        Ok(false)
    }

    /// Re-authentication before a sensitive change: the password or a current TOTP code,
    /// or (for the reference dialects, whose clients send neither) a sign-in moments ago.
    /// An account without a password passes a secret proof with nothing in it.
    pub(super) async fn reauth(
        &self,
        who: &Principal,
        proof: Proof<'_>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let (password, mfa_code) = match proof {
            Proof::Secret { password, mfa_code } => (password, mfa_code),
            Proof::Nothing => return Ok(()),
            Proof::RecentSignIn => {
                let org = self.org(Some(&who.user.org_slug)).await?;
                let cutoff = self.now() - chrono::Duration::seconds(org.policy.recent_sign_in_secs);
                let recent = self
                    .store
                    .list_sessions(who.user.id, self.liveness())
                    .await?
                    .iter()
                    .any(|s| {
                        s.id == who.session_id
                            && s.created_at >= cutoff
                            // An application token is not a sign-in by the person.
                            && s.app_token_id.is_none()
                    });
                return if recent {
                    Ok(())
                } else {
                    Err(AuthError::Forbidden(
                        "this change needs a recent sign-in (the organization's recent_sign_in_secs); sign in again",
                    ))
                };
            }
        };
        let user = &who.user;
        if let Some(pw) = password.filter(|p| !p.is_empty()) {
            self.reauthenticate(user, Some(pw), client).await?;
            return Ok(());
        }
        if let Some(code) = mfa_code.filter(|c| !c.is_empty()) {
            let code = code_digits(Some(code))?;
            return if self.check_totp(user, &code).await? {
                Ok(())
            } else {
                Err(AuthError::InvalidCredentials)
            };
        }
        if self.store.password_hash(user.id).await?.is_none() {
            return Ok(());
        }
        Err(AuthError::invalid(
            "password",
            "is required (or a current mfa_code)",
        ))
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
        self.store
            .insert_mfa_key(&key, &self.master.seal(self.rng.as_ref(), secret.as_ref()))
            .await?;
        self.audit(
            self.event(AuditKind::MfaKeyCreated, who.user.org_id, client)
                .user(who.user.id)
                .actor(who.user.id),
        )
        .await;
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
        if !self
            .store
            .activate_mfa_key(who.user.id, id, step, &hashes, self.now())
            .await?
        {
            return Err(AuthError::NotFound);
        }
        self.audit(
            self.event(AuditKind::MfaEnabled, who.user.org_id, client)
                .user(who.user.id)
                .actor(who.user.id),
        )
        .await;
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
        if !self.store.delete_mfa_key(user.id, id).await? {
            return Err(AuthError::NotFound);
        }
        self.factor_removed(
            user,
            AuditKind::MfaKeyDeleted,
            actor,
            client,
            "A second factor was removed from your account.",
        )
        .await;
        Ok(())
    }

    /// Records that a factor of `user` went: the audit event, and a notice to the user (who
    /// may not be the one who removed it).
    pub(super) async fn factor_removed(
        &self,
        user: &User,
        kind: AuditKind,
        actor: UserId,
        client: &ClientInfo,
        notice: &str,
    ) {
        self.audit(
            self.event(kind, user.org_id, client)
                .user(user.id)
                .actor(actor),
        )
        .await;
        self.send_notice(user, notice).await;
    }

    async fn remove_all_factors(
        &self,
        user: &User,
        actor: UserId,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        self.store.disable_mfa(user.id).await?;
        self.factor_removed(
            user,
            AuditKind::MfaDisabled,
            actor,
            client,
            "Two-step sign-in was turned off for your account.",
        )
        .await;
        Ok(())
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
        self.store.replace_recovery_codes(user.id, &hashes).await?;
        self.audit(
            self.event(AuditKind::RecoveryCodesRegenerated, user.org_id, client)
                .user(user.id)
                .actor(user.id),
        )
        .await;
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
        if !self.store.delete_trusted_device(user.id, id).await? {
            return Err(AuthError::NotFound);
        }
        self.audit(
            self.event(AuditKind::TrustedDeviceRemoved, user.org_id, client)
                .user(user.id)
                .actor(actor),
        )
        .await;
        Ok(())
    }

    /// The second factor of a sign-in whose first factor passed.
    pub(super) async fn second_factor(
        &self,
        user: &User,
        policy: &crate::model::OrgPolicy,
        proof: &SecondFactor,
        client: &ClientInfo,
    ) -> Result<Passed, AuthError> {
        let Enrolled {
            totp: has_totp,
            passkey: has_passkey,
        } = self.store.second_factors(user.id).await?;
        if let Some(assertion) = &proof.passkey {
            self.check_passkey(user, assertion, client).await?;
            return Ok(Passed::By("webauthn"));
        }
        // Only a passkey will do: no other factor is asked for or taken.
        if policy.phishing_resistant_required {
            return if has_passkey {
                Err(AuthError::MfaRequired {
                    methods: vec!["webauthn".to_owned()],
                })
            } else {
                Ok(Passed::EnrolOnly)
            };
        }
        let require_enrolment = policy.mfa_required;
        if let Some(raw) = proof.mfa_code.as_deref().filter(|c| !c.is_empty()) {
            let code = code_digits(Some(raw)).map_err(|_| AuthError::InvalidCredentials)?;
            if has_totp && self.check_totp(user, &code).await? {
                return Ok(Passed::By("otp"));
            }
            // A code sent by login/otp. Receiving it proves the address it went to (which
            // a dialect may have sent it to unproven: DhiWise has no verify route).
            if let Ok(stored) = self
                .check_code(user, Purpose::Mfa, None, &code, true, client)
                .await
            {
                if let Some(to) = Address::of_destination(&stored.destination) {
                    self.store
                        .mark_verified(user.id, &super::codes::lookup_key(&to), self.now())
                        .await?;
                }
                return Ok(Passed::By("otp"));
            }
            return Err(AuthError::InvalidCredentials);
        }
        if !has_totp && !has_passkey {
            return Ok(if require_enrolment {
                Passed::EnrolOnly
            } else {
                Passed::NotNeeded
            });
        }
        if let Some(token) = proof
            .trusted_device_token
            .as_deref()
            .filter(|t| !t.is_empty())
        {
            if self
                .store
                .use_trusted_device(user.id, &hash_token(token), self.now())
                .await?
            {
                return Ok(Passed::By("trusted_device"));
            }
        }
        if let Some(code) = proof.recovery_code.as_deref().filter(|c| !c.is_empty()) {
            if self
                .store
                .use_recovery_code(user.id, &self.recovery_hash(user.id, code), self.now())
                .await?
            {
                self.audit(
                    self.event(AuditKind::RecoveryCodeUsed, user.org_id, client)
                        .user(user.id)
                        .actor(user.id),
                )
                .await;
                return Ok(Passed::By("recovery_code"));
            }
            return Err(AuthError::InvalidCredentials);
        }
        let mut methods = Vec::new();
        if has_passkey {
            methods.push("webauthn".to_owned());
        }
        if has_totp {
            methods.extend(["totp".to_owned(), "recovery_code".to_owned()]);
        }
        if user.email_verified {
            methods.push("email".to_owned());
        }
        if user.phone_verified {
            methods.push("sms".to_owned());
        }
        Err(AuthError::MfaRequired { methods })
    }

    /// Trusts the device a sign-in came from; answers its token.
    pub(super) async fn trust_device(
        &self,
        user: &User,
        client: &ClientInfo,
    ) -> Result<String, AuthError> {
        let token = random_token(self.rng.as_ref());
        let now = self.now();
        let device = TrustedDevice {
            id: uuid::Uuid::now_v7(),
            user_id: user.id,
            name: client.user_agent.clone(),
            created_at: now,
            expires_at: now + self.config.trusted_device_ttl,
            last_used_at: None,
        };
        self.store
            .insert_trusted_device(&device, &hash_token(&token))
            .await?;
        self.audit(
            self.event(AuditKind::TrustedDeviceAdded, user.org_id, client)
                .user(user.id)
                .actor(user.id),
        )
        .await;
        Ok(token)
    }

    /// `login/otp`: the password is checked by the caller; sends a one-time code to the
    /// user's proven email (or phone, or the `channel` asked for); with
    /// [`OtpTo::Registered`], to the registered address when none is proven yet.
    pub(super) async fn send_login_otp(
        &self,
        user: &User,
        channel: Option<&str>,
        to: OtpTo,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let proven = notice_address(user).or_else(|| match to {
            OtpTo::Registered => user
                .email
                .as_deref()
                .or(user.phone.as_deref())
                .and_then(Address::of_destination),
            OtpTo::Proven => None,
        });
        let phone = user
            .phone
            .as_deref()
            .filter(|_| user.phone_verified)
            .and_then(|p| crate::identity::Phone::parse(p, "phone").ok())
            .map(Address::Phone);
        let email = user
            .email
            .as_deref()
            .filter(|_| user.email_verified)
            .and_then(|e| crate::identity::Email::parse(e, "email").ok())
            .map(Address::Email);
        let to = match channel.map(str::trim).filter(|c| !c.is_empty()) {
            None => proven,
            Some("email") => email,
            Some("sms") => phone,
            Some(_) => return Err(AuthError::invalid("channel", "must be email or sms")),
        }
        .ok_or_else(|| {
            AuthError::invalid(
                "channel",
                "the account has no verified address for this channel",
            )
        })?;
        self.send_code(
            user,
            &to,
            Purpose::Mfa,
            super::codes::Window::ToClaim,
            client,
            None,
        )
        .await
    }
}

/// Where a sign-in code may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpTo {
    /// Only to a proven address.
    Proven,
    /// To the registered address when none is proven yet, for dialects with no way to
    /// prove one first (DhiWise): the code coming back proves it.
    Registered,
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

    #[test]
    fn recovery_codes_ignore_case_and_separators() {
        assert_eq!(
            normalise_recovery("AB12-cd34"),
            normalise_recovery("ab12 CD34")
        );
    }
}
