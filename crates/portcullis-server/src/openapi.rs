//! The OpenAPI document's frame, and the `/docs` page rendered from it. The page is plain
//! server-made HTML with no scripts, so it works offline and under a strict CSP (the common
//! doc viewers load their scripts from CDNs).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Doc;
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Portcullis", description = "User management and authentication. Errors are application/problem+json with a stable `code`."),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Registration, sign-in and tokens"),
        (name = "codes", description = "Codes by email and SMS: verification, passwordless sign-in, password recovery"),
        (name = "me", description = "The signed-in user"),
        (name = "mfa", description = "Second factors: TOTP keys, recovery codes, trusted devices"),
        (name = "passkeys", description = "Passkeys and security keys (WebAuthn): registration, passwordless sign-in, and the second step after a password"),
        (name = "admin", description = "Administration (org_admin, system_admin)"),
        (name = "orgs", description = "Organizations and their policies"),
        (name = "devices", description = "Licenses, device registration and device tokens"),
        (name = "oauth", description = "OAuth clients: applications that sign an organization's users in through OpenID Connect"),
        (name = "identity providers", description = "Upstream identity providers of an organization (Sign in with Google, Microsoft, GitHub, GitLab, Apple or any OpenID provider)"),
        (name = "webhooks", description = "Webhooks (an organization's events, posted and signed per Standard Webhooks) and hooks (its own service, asked before an account is made and when an access token is issued)"),
        (name = "scim", description = "SCIM tokens: what an organization's identity provider (Okta, Entra ID...) provisions its users with, at /scim/v2/{slug}/ (SCIM 2.0, described by its own /Schemas)"),
        (name = "discovery", description = "Keys and discovery for token verifiers"),
        (name = "operations", description = "Health, metrics, documentation"),
    )
)]
pub(crate) struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut Doc) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Completes every operation's list of answers with those the shared layers give, so that
/// the document states every status a client can see: errors are `application/problem+json`;
/// an operation with a bearer token can answer 401, one with a body 400, 413 and 415, one
/// with parameters 400, and every one 503 (`overloaded`: the in-flight limit, the request
/// timeout, or the hashing queue).
pub(crate) fn complete_answers(doc: &mut Doc) {
    use utoipa::openapi::{path::Operation, ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
    let problem = |description: &str| -> RefOr<Response> {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    let is_problem = |schema: &Option<RefOr<utoipa::openapi::schema::Schema>>| matches!(schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"));
    for item in doc.paths.paths.values_mut() {
        let ops: [&mut Option<Operation>; 5] = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            let answers = &mut op.responses.responses;
            for answer in answers.values_mut() {
                if let RefOr::T(r) = answer {
                    if r.content
                        .get("application/json")
                        .is_some_and(|c| is_problem(&c.schema))
                    {
                        if let Some(c) = r.content.shift_remove("application/json") {
                            r.content.insert("application/problem+json".to_owned(), c);
                        }
                    }
                }
            }
            let mut add = |status: &str, description: &str| {
                answers
                    .entry(status.to_owned())
                    .or_insert_with(|| problem(description));
            };
            if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                add("401", "`unauthorized` or `token_invalid`: no valid token");
            }
            if op.request_body.is_some() {
                add(
                    "400",
                    "`validation_failed`: the body is not the JSON expected",
                );
                add("413", "`payload_too_large`: the body is over 64 KiB");
                add(
                    "408",
                    "`request_timeout`: the body did not arrive within the body deadline",
                );
                add("415", "`unsupported_media_type`: the body is not JSON");
            }
            if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                add("400", "`validation_failed`: a parameter is malformed");
            }
            add(
                "503",
                "`overloaded`: the server is busy; try again after `Retry-After`",
            );
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders every operation: method, path, summary, description, parameters and answers.
pub(crate) fn docs_page(doc: &Doc) -> String {
    let mut rows = String::new();
    for (path, item) in &doc.paths.paths {
        let ops = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let summary = op.summary.as_deref().unwrap_or("");
            let description = op.description.as_deref().unwrap_or("");
            let answers: Vec<String> = op
                .responses
                .responses
                .iter()
                .map(|(status, r)| match r {
                    utoipa::openapi::RefOr::T(r) => format!(
                        "<li><b>{}</b> {}</li>",
                        escape(status),
                        escape(&r.description)
                    ),
                    utoipa::openapi::RefOr::Ref(_) => format!("<li><b>{}</b></li>", escape(status)),
                })
                .collect();
            let auth = if op.security.is_some() {
                " <span class=auth>bearer</span>"
            } else {
                ""
            };
            rows.push_str(&format!(
                "<section><h3><code>{method} {}</code>{auth}</h3><p>{}</p><p>{}</p><ul>{}</ul></section>\n",
                escape(path),
                escape(summary),
                escape(description),
                answers.join("")
            ));
        }
    }
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
         <title>Portcullis API</title><style>body{{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
         section{{border-top:1px solid #ccc}}code{{font-size:1.05em}}.auth{{font-size:.8em;background:#eee;padding:0 .4em;border-radius:.3em}}</style></head>\
         <body><h1>Portcullis API v1</h1><p>Machine-readable: <a href=\"/v1/openapi.json\">/v1/openapi.json</a> (OpenAPI 3.1). \
         Errors are <code>application/problem+json</code> with a stable <code>code</code>.</p>\n{rows}</body></html>"
    )
}
