//! Steps every way of making or changing an account shares: parsing a new account, hashing its
//! password, creating it (or telling an address's owner instead), and patching a profile.

use super::hooks::Answer;
use super::input::{apply, Fields, Patch};
use super::services::Services;
use crate::audit::{AuditEvent, AuditKind, ClientInfo};
use crate::error::AuthError;
use crate::identity::{Address, Email, Phone, RoleName, Username};
use crate::identity::{Attributes, PersonName};
use crate::ids::UserId;
use crate::model::User;
use crate::password::{check_new_password, Password};
use crate::store::{NewUser, Profile, StoreError};
use crate::webhooks::{Decision, HookName};

/// A self-registration, as received.
#[derive(Debug, Default)]
pub struct RegisterInput {
    /// Email address.
    pub email: Option<String>,
    /// Password (required with an email).
    pub password: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Application fields.
    pub attributes: Option<serde_json::Value>,
    /// Organization slug.
    pub organization: Option<String>,
    /// Where the request came from.
    pub client: ClientInfo,
}

/// A parsed new account: the profile, the password (if any), and the organization.
pub(crate) struct NewAccount {
    pub(crate) profile: Profile,
    pub(crate) email: Option<Email>,
    pub(crate) username: Option<Username>,
    pub(crate) password: Option<Password>,
}

impl Services {
    /// Parses the account fields shared by self-registration and admin creation. An email
    /// needs a password; a phone alone is enough (it signs in by code).
    pub(crate) fn parse_new_account(
        &self,
        f: &mut Fields,
        input: &RegisterInput,
        verified: bool,
        password_required_with_email: bool,
    ) -> NewAccount {
        let email = f.opt(input.email.as_deref(), |s| Email::parse(s, "email"));
        let phone = f.opt(input.phone.as_deref(), |s| Phone::parse(s, "phone"));
        let username = f.opt(input.username.as_deref(), |s| {
            Username::parse(s, "username")
        });
        let first_name = f.opt(input.first_name.as_deref(), |s| {
            PersonName::parse(s, "first_name")
        });
        let last_name = f.opt(input.last_name.as_deref(), |s| {
            PersonName::parse(s, "last_name")
        });
        let attributes = match input.attributes.clone() {
            None | Some(serde_json::Value::Null) => Some(Attributes::default()),
            Some(v) => f
                .take(Attributes::parse(v, "attributes"))
                .map(Attributes::without_nulls),
        };
        let password = input
            .password
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(Password::new);
        let emailish = input.email.as_deref().is_some_and(|s| !s.trim().is_empty());
        let phoneish = input.phone.as_deref().is_some_and(|s| !s.trim().is_empty());
        if !emailish && !phoneish {
            f.push(
                "email",
                "an email address (with a password) or a phone number is required",
            );
        } else if emailish && password.is_none() && password_required_with_email {
            f.push("password", "is required with an email address");
        }
        NewAccount {
            profile: Profile {
                email: email.as_ref().map(|e| e.as_str().to_owned()),
                email_verified: verified && email.is_some(),
                phone: phone.as_ref().map(|p| p.as_str().to_owned()),
                phone_verified: verified && phone.is_some(),
                username: username.as_ref().map(|u| u.as_str().to_owned()),
                first_name: first_name.map(|n| n.as_str().to_owned()),
                last_name: last_name.map(|n| n.as_str().to_owned()),
                attributes: attributes.unwrap_or_default(),
            },
            email,
            username,
            password,
        }
    }

    /// Checks a new account's password against the organization's rules and hashes it.
    pub(crate) async fn hash_new_password(
        &self,
        org: &crate::model::Organization,
        account: &NewAccount,
    ) -> Result<Option<String>, AuthError> {
        let Some(pw) = &account.password else {
            return Ok(None);
        };
        check_new_password(
            pw,
            &org.policy,
            account.email.as_ref(),
            account.username.as_ref(),
            "password",
        )?;
        let pw = pw.clone().stored_as_sha1(org.policy.sha1_hex_passwords);
        Ok(Some(self.hasher.hash(&pw).await?))
    }

    /// Asks the organization's `before_user_created` hook (if it has one) whether an account
    /// with `profile` may be made; `source` says how it comes (`registration`, `admin`,
    /// `upstream`, `scim`). A refusal carries the hook's message, cleaned.
    pub(crate) async fn allow_new_user(
        &self,
        org: &crate::model::Organization,
        p: &Profile,
        roles: &[String],
        source: &str,
    ) -> Result<(), AuthError> {
        let data = serde_json::json!({
            "org_id": org.id.to_string(),
            "org": org.slug,
            "source": source,
            "email": p.email,
            "phone": p.phone,
            "username": p.username,
            "first_name": p.first_name,
            "last_name": p.last_name,
            "roles": roles,
        });
        if let Answer::Given(Decision::Deny { message }) = self
            .ask_hook::<Decision>(org.id, HookName::BeforeUserCreated, data)
            .await?
        {
            let message = message
                .map(|m| {
                    m.chars()
                        .filter(|c| !c.is_control())
                        .take(300)
                        .collect::<String>()
                })
                .filter(|m| !m.trim().is_empty())
                .unwrap_or_else(|| "This account cannot be made.".to_owned());
            return Err(AuthError::HookDenied(message));
        }
        Ok(())
    }

    /// Stores a parsed account: asks the organization's `before_user_created` hook (if it
    /// has one), checks the password against the policy, hashes it, inserts. `source` tells
    /// the hook how the account comes (`registration`, `admin`). With `verify` (where the
    /// request came from, and who acted if not the user), each address not yet proven gets
    /// a code in the same transaction, within the sending limits; one held back by them is
    /// logged, and the user can ask again.
    pub(crate) async fn create_account(
        &self,
        org: &crate::model::Organization,
        account: NewAccount,
        roles: Vec<String>,
        source: &str,
        event: impl FnOnce(UserId) -> AuditEvent,
        verify: Option<(&ClientInfo, Option<UserId>)>,
    ) -> Result<User, AuthError> {
        self.allow_new_user(org, &account.profile, &roles, source)
            .await?;
        let password_hash = self.hash_new_password(org, &account).await?;
        let mut roles = roles;
        if !roles.iter().any(|r| r == RoleName::USER) {
            roles.push(RoleName::USER.to_owned());
        }
        let new = NewUser {
            id: UserId::new(),
            org_id: org.id,
            profile: account.profile,
            password_hash,
            anonymous: false,
            active: true,
            roles,
            created_at: self.now(),
        };
        let codes = match verify {
            Some(by) => self.verification_issues(org, &new, by)?,
            None => Vec::new(),
        };
        let (user, outcomes) = self
            .changed(event(new.id), self.store.create_user(&new, &codes), |_| {
                true
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict { what } => AuthError::Duplicate(what),
                e => e.into(),
            })?;
        for (issue, outcome) in codes.iter().zip(outcomes) {
            if let Err(e) = self.issued(issue, outcome) {
                tracing::warn!(user.id = %user.id, error = %e, "could not queue a verification code");
            }
        }
        Ok(user)
    }

    /// Where an organization conceals accounts, the owner of an address someone tried to
    /// take (by registering, or by upgrading a guest account) gets a notice, and the
    /// attempt is audited.
    pub(crate) async fn tell_existing_owner(
        &self,
        org: &crate::model::Organization,
        profile: &Profile,
        what: &str,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        // The notice goes to the address given, proven or not: whoever reads it there is
        // the one a verification code would have reached.
        let to = if what == "email" {
            profile
                .email
                .as_deref()
                .and_then(|e| Email::parse(e, "email").ok())
                .map(Address::Email)
        } else {
            profile
                .phone
                .as_deref()
                .and_then(|p| Phone::parse(p, "phone").ok())
                .map(Address::Phone)
        };
        let owner = match &to {
            Some(to) => self
                .store
                .credentials(org.id, &super::identifiers::lookup_key(to))
                .await?
                .map(|c| c.user),
            None => None,
        };
        if let (Some(owner), Some(to)) = (&owner, &to) {
            self.audit(
                self.event(AuditKind::RegistrationConcealed, org.id, client)
                    .user(owner.id),
            )
            .await;
            self.send_notice_to(
                owner,
                to,
                "Someone tried to create an account with this address, which already has one. \
                 If it was you, sign in or reset your password; otherwise you need do nothing.",
            )
            .await;
        }
        Ok(())
    }
}

/// A partial profile update; absent fields are kept.
#[derive(Debug, Default)]
pub struct UpdateProfileInput {
    /// New email (becomes unverified).
    pub email: Patch<String>,
    /// New phone (becomes unverified).
    pub phone: Patch<String>,
    /// New username.
    pub username: Patch<String>,
    /// Given name.
    pub first_name: Patch<String>,
    /// Family name.
    pub last_name: Patch<String>,
    /// Keys to replace (`null` removes a key).
    pub attributes: Option<serde_json::Value>,
    /// Where the request came from.
    pub client: ClientInfo,
}

impl Services {
    /// Applies a profile patch to `user`, with `event` recorded in the same transaction;
    /// shared by the user and by admins (`actor`).
    pub(crate) async fn patch_profile(
        &self,
        user: &User,
        input: UpdateProfileInput,
        actor: crate::ids::UserId,
        event: AuditEvent,
    ) -> Result<User, AuthError> {
        let mut f = Fields::default();
        let email = f.patch(input.email, |s| Email::parse(s, "email"));
        let phone = f.patch(input.phone, |s| Phone::parse(s, "phone"));
        let username = f.patch(input.username, |s| Username::parse(s, "username"));
        let first_name = f.patch(input.first_name, |s| PersonName::parse(s, "first_name"));
        let last_name = f.patch(input.last_name, |s| PersonName::parse(s, "last_name"));
        let attributes = match input.attributes {
            None => Some(user.attributes.clone()),
            Some(v) => f
                .take(Attributes::parse(v, "attributes"))
                .and_then(|patch| f.take(user.attributes.merged(&patch, "attributes"))),
        };
        let mut next = Profile::of(user);
        next.email = apply(next.email, email, |e| e.as_str().to_owned());
        next.phone = apply(next.phone, phone, |p| p.as_str().to_owned());
        next.username = apply(next.username, username, |u| u.as_str().to_owned());
        next.first_name = apply(next.first_name, first_name, |n| n.as_str().to_owned());
        next.last_name = apply(next.last_name, last_name, |n| n.as_str().to_owned());
        next.attributes = attributes.unwrap_or_default();
        if next.email != user.email {
            next.email_verified = false;
        }
        if next.phone != user.phone {
            next.phone_verified = false;
        }
        if !user.anonymous && next.email.is_none() && next.phone.is_none() {
            f.push(
                "email",
                "an account needs an email address or a phone number",
            );
        }
        f.finish()?;
        let updated = self
            .changed(
                event,
                self.store.update_profile(user.id, &next, self.now()),
                Option::is_some,
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict { what } => AuthError::Duplicate(what),
                e => e.into(),
            })?
            .ok_or(AuthError::NotFound)?;
        self.announce_profile_change(user, &updated, &input.client, actor)
            .await;
        Ok(updated)
    }

    /// The hash of a new password for an existing account, checked against its
    /// organization's rules and its own identifiers, in the organization's stored form.
    pub(crate) async fn replacement_hash(
        &self,
        user: &User,
        new_password: &str,
    ) -> Result<String, AuthError> {
        let org = self.org(Some(&user.org_slug)).await?;
        let email = user
            .email
            .as_deref()
            .and_then(|e| Email::parse(e, "email").ok());
        let username = user
            .username
            .as_deref()
            .and_then(|u| Username::parse(u, "username").ok());
        let new = Password::new(new_password).stored_as_sha1(org.policy.sha1_hex_passwords);
        check_new_password(
            &new,
            &org.policy,
            email.as_ref(),
            username.as_ref(),
            "new_password",
        )?;
        self.hasher.hash(&new).await
    }
}
