//! Synchronous hooks: an organization's own service, asked during a request (before an
//! account is made; when an access token is issued). A call is signed as a webhook is, has
//! a strict time budget, and a failure (no answer in time, an error status, an answer that
//! does not parse) stops the request or lets it go on, as the hook's policy says.

use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::services::Services;
use super::webhooks::SECRET_PURPOSE;
use crate::error::AuthError;
use crate::ids::OrgId;
use crate::model::User;
use crate::notify::OutboundRequest;
use crate::webhooks::{
    allowed_claims, signed_headers, signing_secrets, ClaimsAnswer, Hook, HookName,
};

/// What became of a hook call.
pub(crate) enum Answer<T> {
    /// No hook is set (or it is turned off).
    NotSet,
    /// The hook answered.
    Given(T),
    /// The hook failed, and fails open: go on as if there were none.
    FailedOpen,
}

impl Services {
    /// `org`'s hook `name`, if it is set: from this node's cache, which forgets hooks at any
    /// change to one on any node, else from the store.
    async fn hook_of(&self, org: OrgId, name: HookName) -> Result<Option<Hook>, AuthError> {
        let now = self.now();
        if let Some(hook) = self.sessions.hook(org, name, now) {
            return Ok(hook);
        }
        let generation = self.sessions.generation();
        let hook = self.store.hook(org, name).await?;
        self.sessions
            .put_hook(org, name, hook.clone(), generation, now);
        Ok(hook)
    }

    /// Asks `org`'s hook `name` about `data` (sent as `{"type", "timestamp", "data"}`).
    /// A failure of a hook that fails closed is [`AuthError::HookUnavailable`].
    pub(crate) async fn ask_hook<T: DeserializeOwned>(
        &self,
        org: OrgId,
        name: HookName,
        data: serde_json::Value,
    ) -> Result<Answer<T>, AuthError> {
        let Some(hook) = self.hook_of(org, name).await?.filter(|h| h.enabled) else {
            return Ok(Answer::NotSet);
        };
        let started = Instant::now();
        let outcome = self.call_hook::<T>(&hook, data).await;
        metrics::histogram!("portcullis_hook_call_seconds", "hook" => name.as_str())
            .record(started.elapsed().as_secs_f64());
        let failure = match outcome {
            Ok(answer) => {
                metrics::counter!("portcullis_hook_calls_total", "hook" => name.as_str(), "result" => "answered")
                    .increment(1);
                return Ok(Answer::Given(answer));
            }
            Err(failure) => failure,
        };
        metrics::counter!("portcullis_hook_calls_total", "hook" => name.as_str(), "result" => failure.label())
            .increment(1);
        tracing::warn!(hook = name.as_str(), org = %org, error = %failure,
            fail_closed = hook.fail_closed, "hook failed");
        if hook.fail_closed {
            Err(AuthError::HookUnavailable)
        } else {
            Ok(Answer::FailedOpen)
        }
    }

    /// The claims `user`'s organization's hook adds to an access token with `claims`.
    pub(crate) async fn hook_claims(
        &self,
        user: &User,
        claims: &impl serde::Serialize,
    ) -> Result<serde_json::Map<String, serde_json::Value>, AuthError> {
        let data = serde_json::json!({
            "user": {
                "id": user.id.to_string(),
                "org_id": user.org_id.to_string(),
                "username": user.username,
                "email": user.email,
                "roles": user.roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
                "attributes": user.attributes.as_map(),
            },
            "claims": claims,
        });
        let answer = self
            .ask_hook::<ClaimsAnswer>(user.org_id, HookName::CustomAccessTokenClaims, data)
            .await?;
        let Answer::Given(answer) = answer else {
            return Ok(serde_json::Map::new());
        };
        match allowed_claims(answer.claims) {
            Ok(claims) => Ok(claims),
            Err(why) => {
                tracing::warn!(org = %user.org_id, error = %why, "hook claims refused");
                Ok(serde_json::Map::new())
            }
        }
    }

    async fn call_hook<T: DeserializeOwned>(
        &self,
        hook: &crate::webhooks::Hook,
        data: serde_json::Value,
    ) -> Result<T, Failure> {
        let caller = self
            .caller
            .as_ref()
            .ok_or(Failure::Error("this node makes no outbound calls".into()))?;
        let now = self.now();
        let secrets = signing_secrets(&hook.secret_sealed, hook.previous_secret.as_ref(), now)
            .into_iter()
            .map(|sealed| {
                self.open(SECRET_PURPOSE, sealed)
                    .and_then(|s| String::from_utf8(s.to_vec()).ok())
            })
            .collect::<Option<Vec<String>>>()
            .ok_or(Failure::Error("the hook's secret cannot be read".into()))?;
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let id = uuid::Uuid::now_v7().to_string();
        let body = serde_json::json!({
            "type": hook.name.as_str(),
            "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": data,
        })
        .to_string();
        let headers = signed_headers(&secrets, &id, now, &body)
            .ok_or(Failure::Error("the hook's secret cannot sign".into()))?;
        let budget = Duration::from_millis(u64::from(hook.timeout_ms));
        let request = OutboundRequest {
            url: hook.url.clone(),
            content_type: "application/json".into(),
            body,
            headers,
            timeout_ms: Some(u64::from(hook.timeout_ms)),
        };
        // The caller's own timeout covers the call; this one holds whatever it misses.
        let reply = tokio::time::timeout(budget, caller.post(&request))
            .await
            .map_err(|_| Failure::Timeout)?
            .map_err(|e| {
                if e.timed_out {
                    Failure::Timeout
                } else {
                    Failure::Error(e.reason)
                }
            })?;
        serde_json::from_str(&reply.body)
            .map_err(|e| Failure::Error(format!("the answer does not parse: {e}")))
    }
}

/// Why a hook call failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("no answer within the time budget")]
    Timeout,
    #[error("{0}")]
    Error(String),
}

impl Failure {
    fn label(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Error(_) => "failed",
        }
    }
}
