//! Core types to wire types.

use chrono::{DateTime, Utc};
use portcullis_api as api;
use portcullis_core::model;
use portcullis_core::service::Tokens;

pub(crate) fn role(r: model::Role) -> api::Role {
    api::Role {
        name: r.name,
        added_at: r.added_at,
    }
}

pub(crate) fn roles(rs: Vec<model::Role>) -> api::RolesResponse {
    api::RolesResponse {
        roles: rs.into_iter().map(role).collect(),
    }
}

pub(crate) fn user(u: model::User) -> api::User {
    api::User {
        id: u.id.0,
        organization: u.org_slug,
        email: u.email,
        email_verified: u.email_verified,
        phone: u.phone,
        phone_verified: u.phone_verified,
        username: u.username,
        first_name: u.first_name,
        last_name: u.last_name,
        anonymous: u.anonymous,
        active: u.active,
        roles: u.roles.into_iter().map(role).collect(),
        mfa_enabled: u.mfa_enabled,
        attributes: u.attributes.as_map().clone(),
        created_at: u.created_at,
        updated_at: u.updated_at,
        last_login_at: u.last_login_at,
    }
}

pub(crate) fn token_pair(t: Tokens) -> api::TokenPair {
    api::TokenPair {
        access_token: t.access_token,
        refresh_token: t.refresh_token,
        token_type: "Bearer".to_owned(),
        expires_in: t.expires_in,
        user: user(t.user),
        trusted_device_token: t.trusted_device_token,
        device_cookie: t.device_cookie,
    }
}

pub(crate) fn session(s: model::Session, current: portcullis_core::SessionId) -> api::Session {
    api::Session {
        id: s.id.0,
        created_at: s.created_at,
        last_seen_at: s.last_seen_at,
        expires_at: s.expires_at,
        ip: s.ip,
        user_agent: s.user_agent,
        current: s.id == current,
    }
}

pub(crate) fn audit_event(e: portcullis_core::AuditEvent) -> api::AuditEvent {
    api::AuditEvent {
        id: e.id.0,
        kind: e.kind,
        user_id: e.user_id.map(|u| u.0),
        actor_id: e.actor_id.map(|u| u.0),
        ip: e.ip,
        user_agent: e.user_agent,
        at: e.at,
        details: e.details,
    }
}

pub(crate) fn organization(o: model::Organization) -> api::Organization {
    let p = o.policy;
    api::Organization {
        id: o.id.0,
        slug: o.slug,
        name: o.name,
        policy: api::OrgPolicy {
            allow_self_registration: p.allow_self_registration,
            allow_anonymous: p.allow_anonymous,
            mfa_required: p.mfa_required,
            require_device_token: p.require_device_token,
            recovery_by_questions: p.recovery_by_questions,
            password_min_length: p.password_min_length,
            password_max_length: p.password_max_length,
            session_ttl_secs: p.session_ttl_secs,
            lockout_threshold: p.lockout_threshold,
            lockout_base_secs: p.lockout_base_secs,
            lockout_max_secs: p.lockout_max_secs,
            conceal_existing_accounts: p.conceal_existing_accounts,
            sha1_hex_passwords: p.sha1_hex_passwords,
            brand_logo_url: p.brand_logo_url,
            brand_color: p.brand_color,
            webauthn_rp_id: p.webauthn_rp_id,
            webauthn_origins: p.webauthn_origins,
            phishing_resistant_required: p.phishing_resistant_required,
            recent_sign_in_secs: p.recent_sign_in_secs,
        },
        created_at: o.created_at,
        updated_at: o.updated_at,
    }
}

pub(crate) fn app_token(t: model::AppToken) -> api::AppToken {
    api::AppToken {
        id: t.id,
        description: t.description,
        prefix: t.prefix,
        created_at: t.created_at,
        expires_at: t.expires_at,
        last_used_at: t.last_used_at,
    }
}

pub(crate) fn app_tokens(ts: Vec<model::AppToken>) -> api::AppTokenList {
    api::AppTokenList {
        items: ts.into_iter().map(app_token).collect(),
        next_cursor: None,
    }
}

pub(crate) fn oauth_client(c: portcullis_core::oauth::OAuthClient) -> api::OAuthClient {
    api::OAuthClient {
        client_id: c.id,
        name: c.name,
        client_type: c.client_type.as_str().to_owned(),
        redirect_uris: c.redirect_uris,
        post_logout_redirect_uris: c.post_logout_redirect_uris,
        grant_types: c
            .grant_types
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        scopes: c.scopes,
        token_endpoint_auth_method: c.token_endpoint_auth_method.as_str().to_owned(),
        id_token_signed_response_alg: c.id_token_signed_response_alg.as_str().to_owned(),
        first_party: c.first_party,
        backchannel_logout_uri: c.backchannel_logout_uri,
        access_token_lifetime_secs: c.access_token_lifetime_secs,
        refresh_token_lifetime_secs: c.refresh_token_lifetime_secs,
        client_secret_prefix: c.secret_prefix,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

pub(crate) fn webhook(w: portcullis_core::webhooks::Webhook, now: DateTime<Utc>) -> api::Webhook {
    api::Webhook {
        previous_secret_expires_at: w
            .previous_secret
            .map(|(_, until)| until)
            .filter(|until| *until > now),
        id: w.id,
        url: w.url,
        event_types: w.event_types,
        enabled: w.enabled,
        failing_since: w.failing_since,
        created_at: w.created_at,
        updated_at: w.updated_at,
    }
}

pub(crate) fn delivery(d: portcullis_core::webhooks::Delivery) -> api::WebhookDelivery {
    api::WebhookDelivery {
        event_id: d.event_id,
        event_type: d.event_type,
        status: d.state.as_str().to_owned(),
        attempts: d.attempts,
        response_status: d.last_status,
        latency_ms: d.last_latency_ms,
        error: d.last_error,
        next_attempt_at: d.next_at,
        created_at: d.created_at,
        delivered_at: d.delivered_at,
        payload: serde_json::from_str(&d.body).unwrap_or(serde_json::Value::Null),
    }
}

pub(crate) fn hook(h: portcullis_core::webhooks::Hook) -> api::Hook {
    api::Hook {
        name: h.name.as_str().to_owned(),
        url: h.url,
        timeout_ms: h.timeout_ms,
        on_failure: if h.fail_closed { "closed" } else { "open" }.to_owned(),
        enabled: h.enabled,
        created_at: h.created_at,
        updated_at: h.updated_at,
    }
}

pub(crate) fn license(l: model::License) -> api::License {
    api::License {
        id: l.id,
        prefix: l.prefix,
        max_devices: l.max_devices,
        device_count: l.device_count,
        created_at: l.created_at,
        expires_at: l.expires_at,
    }
}

pub(crate) fn device(d: model::Device) -> api::Device {
    api::Device {
        id: d.id,
        license_id: d.license_id,
        name: d.name,
        device_type: d.device_type,
        identifier: d.identifier,
        created_at: d.created_at,
        last_seen_at: d.last_seen_at,
    }
}

pub(crate) fn mfa_key(k: model::MfaKey) -> api::MfaKey {
    api::MfaKey {
        id: k.id,
        kind: k.kind,
        status: k.status,
        created_at: k.created_at,
        activated_at: k.activated_at,
    }
}

pub(crate) fn trusted_devices(ds: Vec<model::TrustedDevice>) -> api::TrustedDeviceList {
    let items = ds
        .into_iter()
        .map(|d| api::TrustedDevice {
            id: d.id,
            name: d.name,
            created_at: d.created_at,
            expires_at: d.expires_at,
            last_used_at: d.last_used_at,
        })
        .collect();
    api::TrustedDeviceList {
        items,
        next_cursor: None,
    }
}

pub(crate) fn passkey_assertion(
    a: api::PasskeyAssertion,
) -> portcullis_core::service::PasskeyAssertion {
    portcullis_core::service::PasskeyAssertion {
        challenge_id: a.challenge_id,
        credential: a.credential,
    }
}

pub(crate) fn passkey_challenge(
    c: portcullis_core::service::PasskeyChallenge,
) -> api::PasskeyChallenge {
    api::PasskeyChallenge {
        challenge_id: c.challenge_id,
        options: c.options,
    }
}

pub(crate) fn passkey(p: model::PasskeyInfo) -> api::Passkey {
    api::Passkey {
        id: p.id,
        name: p.name,
        credential_id: p.credential_id,
        counter: p.counter,
        backup_eligible: p.backup_eligible,
        backup_state: p.backup_state,
        created_at: p.created_at,
        last_used_at: p.last_used_at,
    }
}

pub(crate) fn passkeys(items: Vec<model::PasskeyInfo>) -> api::PasskeyList {
    api::PasskeyList {
        items: items.into_iter().map(passkey).collect(),
    }
}

pub(crate) fn identity_provider(
    issuer: &str,
    p: portcullis_core::upstream::IdentityProvider,
) -> api::IdentityProvider {
    let c = p.config;
    api::IdentityProvider {
        id: p.id,
        kind: p.kind.as_str().to_owned(),
        name: p.name,
        enabled: p.enabled,
        redirect_uri: portcullis_core::upstream::redirect_uri(issuer, p.id),
        client_id: c.client_id,
        has_client_secret: p.secret_sealed.is_some(),
        issuer: c.issuer,
        discovery_url: c.discovery_url,
        authorization_endpoint: c.authorization_endpoint,
        token_endpoint: c.token_endpoint,
        userinfo_endpoint: c.userinfo_endpoint,
        jwks_uri: c.jwks_uri,
        scopes: c.scopes,
        claims: api::ClaimMapping {
            email: Some(c.claims.email),
            email_verified: Some(c.claims.email_verified),
            phone: Some(c.claims.phone),
            given_name: Some(c.claims.given_name),
            family_name: Some(c.claims.family_name),
            username: Some(c.claims.username),
        },
        allow_signup: c.allow_signup,
        allow_linking: c.allow_linking,
        trust_mfa: c.trust_mfa,
        keep_refresh_token: c.keep_refresh_token,
        tenant: c.tenant,
        team_id: c.team_id,
        key_id: c.key_id,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

pub(crate) fn linked_identity(v: portcullis_core::service::IdentityView) -> api::LinkedIdentity {
    let i = v.identity;
    api::LinkedIdentity {
        id: i.id,
        provider_id: i.provider_id,
        provider_name: v.provider_name,
        kind: v.kind.as_str().to_owned(),
        issuer: i.issuer,
        subject: i.subject,
        email: i.email,
        has_refresh_token: i.refresh_token_sealed.is_some(),
        created_at: i.created_at,
        last_used_at: i.last_used_at,
    }
}
