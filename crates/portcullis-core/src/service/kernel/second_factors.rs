//! The second factor at sign-in: which factors a user has, checking the one presented (TOTP,
//! recovery code, emailed or texted code, passkey), trusting the device, and sending a one-time
//! code.

use super::codes::{code_digits, notice_address};
use super::passkey_checks::PasskeyAssertion;
use super::services::Services;
use crate::audit::{AuditEvent, AuditKind, ClientInfo};
use crate::crypto::{ct_eq, hash_token, random_token};
use crate::error::AuthError;
use crate::identity::Address;
use crate::ids::UserId;
use crate::model::{TrustedDevice, User};
use crate::store::Enrolled;
use crate::store::Purpose;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, TOTP};
use zeroize::Zeroizing;

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
    pub passkey: Option<PasskeyAssertion>,
}

/// The outcome of the second-factor check of a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Passed {
    /// The user has no second factor.
    NotNeeded,
    /// The user's organization requires one and the user has none: enrolment only.
    EnrolOnly,
    /// Proven; the `amr` value of how.
    By(&'static str),
}

pub(crate) fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> Result<TOTP, AuthError> {
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

/// How codes are typed: case and separators do not matter.
pub(crate) fn normalise_recovery(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase()
}

impl Services {
    pub(crate) fn recovery_hash(&self, user: UserId, code: &str) -> String {
        let pepper = self.master.derive("recovery-code");
        let mut h = Sha256::new();
        h.update(pepper.as_ref());
        h.update(user.0.as_bytes());
        h.update(normalise_recovery(code).as_bytes());
        hex::encode(h.finalize())
    }

    /// The TOTP step a code matches (this step, or one either side), if any.
    pub(crate) fn totp_step(&self, sealed: &str, code: &str) -> Result<Option<i64>, AuthError> {
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
    pub(crate) async fn check_totp(&self, user: &User, code: &str) -> Result<bool, AuthError> {
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

    /// Removes a second factor of `user` by `change` (a store write; `happened` tells from
    /// its answer whether there was one), with `event` in its transaction, and tells the
    /// user (who may not be the one who removed it).
    pub(crate) async fn remove_factor<T>(
        &self,
        user: &User,
        event: AuditEvent,
        notice: &str,
        change: impl std::future::Future<Output = Result<T, crate::store::StoreError>>,
        happened: impl Fn(&T) -> bool,
    ) -> Result<T, AuthError> {
        let out = self.changed(event, change, &happened).await?;
        if happened(&out) {
            self.send_notice(user, notice).await;
        }
        Ok(out)
    }

    /// The second factor of a sign-in whose first factor passed.
    pub(crate) async fn second_factor(
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
                        .mark_verified(user.id, &super::identifiers::lookup_key(&to), self.now())
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
    pub(crate) async fn trust_device(
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
        self.changed(
            self.event(AuditKind::TrustedDeviceAdded, user.org_id, client)
                .user(user.id)
                .actor(user.id),
            self.store
                .insert_trusted_device(&device, &hash_token(&token)),
            |_| true,
        )
        .await?;
        Ok(token)
    }

    /// `login/otp`: the password is checked by the caller; sends a one-time code to the
    /// user's proven email (or phone, or the `channel` asked for); with
    /// [`OtpTo::Registered`], to the registered address when none is proven yet.
    pub(crate) async fn send_login_otp(
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

pub(crate) const ACTIVE: &str = "active";

pub(crate) const STEP_SECS: i64 = 30;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_ignore_case_and_separators() {
        assert_eq!(
            normalise_recovery("AB12-cd34"),
            normalise_recovery("ab12 CD34")
        );
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
