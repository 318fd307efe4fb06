//! Outbound HTTP calls (the core's [`Caller`] port): back-channel logout tokens, webhooks
//! and hooks. Calls go only to public addresses, so that a URL an organization admin
//! registers cannot reach the server's own network (SSRF), unless the operator lists the
//! address in `PORTCULLIS_OUTBOUND_ALLOW`. The check is made on the addresses a name
//! resolves to, in the resolver the connection uses, so a name cannot change its answer
//! between the check and the call.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ipnet::IpNet;
use portcullis_core::notify::{CallError, CallReply, Caller, OutboundRequest};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `ip` is an address the world can reach (not loopback, private, link-local,
/// shared, documentation, multicast or unspecified).
fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || (a == 100 && (64..128).contains(&b)) // shared address space, RFC 6598
                || a == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80) // link local
        }
    }
}

/// Which addresses may be called.
#[derive(Debug, Clone, Default)]
struct Policy {
    allow: Vec<IpNet>,
}

impl Policy {
    fn permits(&self, ip: IpAddr) -> bool {
        public(ip) || self.allow.iter().any(|net| net.contains(&ip))
    }
}

/// Resolves names with the system resolver, keeping only the addresses the policy permits.
struct Guarded(Arc<Policy>);

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.0);
        Box::pin(async move {
            let host = format!("{}:0", name.as_str());
            let found: Vec<SocketAddr> = tokio::net::lookup_host(host).await?.collect();
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if kept.is_empty() {
                return Err(format!(
                    "{} resolves only to addresses outbound calls may not reach",
                    name.as_str()
                )
                .into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// Makes outbound calls with reqwest, to permitted addresses only.
#[derive(Debug, Clone)]
pub struct HttpCaller {
    http: reqwest::Client,
    policy: Arc<Policy>,
}

impl HttpCaller {
    /// A caller that may also reach `allow` (addresses or CIDR blocks, such as `127.0.0.1`
    /// or `10.0.0.0/8`), though they are not public.
    pub fn new(allow: &[String]) -> Result<Self, String> {
        let allow = allow
            .iter()
            .map(|a| {
                let a = a.trim();
                a.parse::<IpNet>()
                    .or_else(|_| a.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{a:?} is not an IP address or CIDR block"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let policy = Arc::new(Policy { allow });
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(Guarded(Arc::clone(&policy))))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { http, policy })
    }
}

/// The most of an answer's body that is read.
const REPLY_LIMIT: usize = 64 * 1024;

#[async_trait]
impl Caller for HttpCaller {
    async fn post(&self, request: &OutboundRequest) -> Result<CallReply, CallError> {
        self.call(reqwest::Method::POST, request).await
    }

    async fn get(&self, request: &OutboundRequest) -> Result<CallReply, CallError> {
        self.call(reqwest::Method::GET, request).await
    }
}

impl HttpCaller {
    async fn call(
        &self,
        method: reqwest::Method,
        request: &OutboundRequest,
    ) -> Result<CallReply, CallError> {
        let refuse = |reason: String| CallError {
            reason,
            permanent: true,
            status: None,
            timed_out: false,
        };
        let failed = |e: reqwest::Error, status: Option<u16>| CallError {
            reason: format!("{e}"),
            permanent: false,
            status,
            timed_out: e.is_timeout(),
        };
        let url = reqwest::Url::parse(&request.url).map_err(|e| refuse(e.to_string()))?;
        // An address written in the URL never reaches the resolver: checked here.
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if literal.is_some_and(|ip| !self.policy.permits(ip)) {
            return Err(refuse(format!(
                "{} is not an address outbound calls may reach",
                url.host_str().unwrap_or_default()
            )));
        }
        let mut call = self.http.request(method.clone(), url);
        if method == reqwest::Method::POST {
            call = call
                .header(reqwest::header::CONTENT_TYPE, &request.content_type)
                .body(request.body.clone());
        }
        for (name, value) in &request.headers {
            call = call.header(name.as_str(), value.as_str());
        }
        if let Some(ms) = request.timeout_ms {
            call = call.timeout(Duration::from_millis(ms));
        }
        let mut res = call.send().await.map_err(|e| failed(e, None))?;
        let status = res.status();
        // The body, up to the limit (a hook's answer); the rest is not read.
        let mut body = Vec::new();
        while body.len() < REPLY_LIMIT {
            match res.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Err(failed(e, Some(status.as_u16()))),
            }
        }
        body.truncate(REPLY_LIMIT);
        if status.is_success() {
            Ok(CallReply {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        } else {
            Err(CallError {
                reason: format!("answered {status}"),
                permanent: false,
                status: Some(status.as_u16()),
                timed_out: false,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_unless_allowed() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "100.64.0.1",
            "0.0.0.0",
            "::ffff:127.0.0.1",
        ] {
            assert!(!public(private.parse().unwrap()), "{private}");
        }
        for open in ["8.8.8.8", "2606:4700::1111"] {
            assert!(public(open.parse().unwrap()), "{open}");
        }
        let caller = HttpCaller::new(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        assert!(caller.policy.permits("127.0.0.1".parse().unwrap()));
        assert!(caller.policy.permits("10.9.9.9".parse().unwrap()));
        assert!(!caller.policy.permits("192.168.1.1".parse().unwrap()));
        assert!(HttpCaller::new(&["nonsense".into()]).is_err());
    }

    #[tokio::test]
    async fn a_refused_address_is_given_up_at_once() {
        let caller = HttpCaller::new(&[]).unwrap();
        let e = caller
            .post(&OutboundRequest {
                url: "http://127.0.0.1:9/logout".into(),
                content_type: "text/plain".into(),
                body: String::new(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(e.permanent, "{e}");
        let e = caller
            .post(&OutboundRequest {
                url: "http://localhost:9/logout".into(),
                content_type: "text/plain".into(),
                body: String::new(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("may not reach") || e.to_string().contains("error"),
            "{e}"
        );
    }
}
