//! What upstream identity providers publish about themselves, fetched through the outbound
//! caller and kept for a while: discovery documents and key sets. A token signed by a key
//! the cached set lacks makes one fresh fetch of the set (key rotation), no more often than
//! every few seconds per URL, so that forged `kid`s cannot make us hammer the upstream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use crate::notify::{CallError, Caller, OutboundRequest};
use crate::tokens::ForeignKeys;

/// How long a document is kept.
const KEEP: Duration = Duration::minutes(15);
/// The least time between two fetches of one key set when a `kid` is unknown.
const REFETCH_GAP: Duration = Duration::seconds(5);
/// How long an upstream may take to answer.
pub(crate) const UPSTREAM_TIMEOUT_MS: u64 = 5_000;

#[derive(Clone)]
struct Cached {
    doc: Arc<serde_json::Value>,
    keys: Option<Arc<ForeignKeys>>,
    at: DateTime<Utc>,
}

/// The cache, shared by every request of a node.
#[derive(Default)]
pub(crate) struct UpstreamMeta {
    docs: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for UpstreamMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamMeta").finish_non_exhaustive()
    }
}

/// Fetches `url` as JSON.
pub(crate) async fn fetch_json(
    caller: &dyn Caller,
    url: &str,
    bearer: Option<&str>,
) -> Result<serde_json::Value, String> {
    let mut headers = vec![
        ("accept".to_owned(), "application/json".to_owned()),
        ("user-agent".to_owned(), "Portcullis".to_owned()),
    ];
    if let Some(token) = bearer {
        headers.push(("authorization".to_owned(), format!("Bearer {token}")));
    }
    let reply = caller
        .get(&OutboundRequest {
            url: url.to_owned(),
            headers,
            timeout_ms: Some(UPSTREAM_TIMEOUT_MS),
            ..OutboundRequest::default()
        })
        .await
        .map_err(|e: CallError| e.reason)?;
    serde_json::from_str(&reply.body).map_err(|_| format!("{url} did not answer JSON"))
}

impl UpstreamMeta {
    fn cached(&self, url: &str, now: DateTime<Utc>) -> Option<Cached> {
        let docs = self.docs.lock().ok()?;
        docs.get(url).filter(|c| now - c.at < KEEP).cloned()
    }

    fn keep(&self, url: &str, cached: Cached) {
        if let Ok(mut docs) = self.docs.lock() {
            if docs.len() > 1_000 {
                docs.clear();
            }
            docs.insert(url.to_owned(), cached);
        }
    }

    /// The JSON document at `url` (a discovery document), from the cache when fresh.
    pub(crate) async fn document(
        &self,
        caller: &dyn Caller,
        url: &str,
        now: DateTime<Utc>,
    ) -> Result<Arc<serde_json::Value>, String> {
        if let Some(c) = self.cached(url, now) {
            return Ok(c.doc);
        }
        let doc = Arc::new(fetch_json(caller, url, None).await?);
        self.keep(
            url,
            Cached {
                doc: Arc::clone(&doc),
                keys: None,
                at: now,
            },
        );
        Ok(doc)
    }

    /// The key set at `url`; `fresh` fetches it again (a token named a key it lacks),
    /// unless it was fetched a moment ago.
    pub(crate) async fn keys(
        &self,
        caller: &dyn Caller,
        url: &str,
        now: DateTime<Utc>,
        fresh: bool,
    ) -> Result<Arc<ForeignKeys>, String> {
        if let Some(c) = self.cached(url, now) {
            if let Some(keys) = c.keys {
                if !fresh || now - c.at < REFETCH_GAP {
                    return Ok(keys);
                }
            }
        }
        let doc = fetch_json(caller, url, None).await?;
        let keys = Arc::new(ForeignKeys::from_jwks(&doc));
        if keys.is_empty() {
            return Err(format!("{url} holds no usable signing key"));
        }
        self.keep(
            url,
            Cached {
                doc: Arc::new(doc),
                keys: Some(Arc::clone(&keys)),
                at: now,
            },
        );
        Ok(keys)
    }
}
