//! SCIM 2.0 over HTTP (RFC 7644), per organization at `/scim/v2/{slug}/`: discovery,
//! `Users` (list and search, create, read, replace, patch, delete) and `Groups` (the same,
//! but search). Answers are
//! `application/scim+json`, errors SCIM's own error body with `scimType`; a single resource
//! carries its version as `ETag`, and `If-Match` makes a change conditional. Not in the
//! OpenAPI document: SCIM describes itself (`/Schemas`).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use portcullis_core::scim::discovery;
use portcullis_core::scim::user::{attribute_list, project};
use portcullis_core::scim::AttrPath;
use portcullis_core::scim::{ScimError, ERROR_SCHEMA, LIST_SCHEMA, SEARCH_SCHEMA};
use portcullis_core::service::{ScimClient, ScimListQuery, ScimPage};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::extract::Client;
use crate::AppState;

const SCIM_JSON: &str = "application/scim+json";

/// A SCIM answer: an error body with its status.
struct Scim(ScimError);

impl From<ScimError> for Scim {
    fn from(e: ScimError) -> Self {
        Self(e)
    }
}

impl IntoResponse for Scim {
    fn into_response(self) -> Response {
        let e = self.0;
        let mut body =
            json!({"schemas": [ERROR_SCHEMA], "status": e.status.to_string(), "detail": e.detail});
        if let Some(t) = e.scim_type {
            body["scimType"] = Value::String(t.to_owned());
        }
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = answer(status, &body);
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                "www-authenticate",
                HeaderValue::from_static("Bearer realm=\"scim\""),
            );
        }
        res
    }
}

fn answer(status: StatusCode, body: &Value) -> Response {
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    res
}

/// One resource, with its version as `ETag`.
fn resource(status: StatusCode, r: &Value) -> Response {
    let version = r["meta"]["version"].as_str().map(str::to_owned);
    let location = (status == StatusCode::CREATED)
        .then(|| r["meta"]["location"].as_str().map(str::to_owned))
        .flatten();
    let mut res = answer(status, r);
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(&v).ok()) {
        res.headers_mut().insert(ETAG, v);
    }
    if let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        res.headers_mut().insert(LOCATION, l);
    }
    res
}

type Result<T> = std::result::Result<T, Scim>;

async fn caller(app: &AppState, slug: &str, headers: &HeaderMap) -> Result<ScimClient> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    Ok(app.services.scim_client(slug, bearer).await?)
}

fn base(app: &AppState, slug: &str) -> String {
    format!(
        "{}/scim/v2/{slug}",
        app.services.config().issuer.trim_end_matches('/')
    )
}

fn header(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A JSON body (`application/scim+json` or `application/json`).
fn body(headers: &HeaderMap, bytes: std::result::Result<Bytes, BytesRejection>) -> Result<Value> {
    let json = header(headers, CONTENT_TYPE)
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == SCIM_JSON || m == "application/json"
        });
    if !json {
        return Err(ScimError::status(415, "send application/scim+json").into());
    }
    // A body over the size limit is refused in SCIM's words too.
    let bytes = bytes.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ScimError::status(413, "the body is larger than 64 KiB")
        } else {
            ScimError::invalid_syntax("the body could not be read")
        }
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|_| ScimError::invalid_syntax("the body is not valid JSON").into())
}

/// The list parameters, from a query string or a `.search` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    filter: Option<String>,
    start_index: Option<Value>,
    count: Option<Value>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    attributes: Option<Value>,
    excluded_attributes: Option<Value>,
}

fn number(v: Option<&Value>, name: &str) -> Result<Option<i64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| ScimError::invalid_value(&format!("{name} must be an integer")).into()),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ScimError::invalid_value(&format!("{name} must be an integer")).into()),
        Some(_) => Err(ScimError::invalid_value(&format!("{name} must be an integer")).into()),
    }
}

/// `attributes` as a comma-separated string or (in a `.search` body) a list.
fn names(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    }
}

/// A `ListResponse` of a page, each resource projected.
fn page_answer(page: ScimPage, attributes: &[AttrPath], excluded: &[AttrPath]) -> Response {
    let items: Vec<Value> = page
        .resources
        .into_iter()
        .map(|r| project(r, attributes, excluded))
        .collect();
    answer(
        StatusCode::OK,
        &json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": page.total,
            "startIndex": page.start_index,
            "itemsPerPage": items.len(),
            "Resources": items,
        }),
    )
}

/// One resource as read: 304 for a matching `If-None-Match`, else projected, with its
/// version (of the whole resource) as `ETag`.
fn one(
    headers: &HeaderMap,
    r: Value,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) -> Result<Response> {
    let version = r["meta"]["version"].as_str().map(str::to_owned);
    if let (Some(want), Some(have)) = (header(headers, IF_NONE_MATCH), version.as_deref()) {
        if want.split(',').any(|v| v.trim() == have || v.trim() == "*") {
            return Ok(StatusCode::NOT_MODIFIED.into_response());
        }
    }
    let mut out = resource(StatusCode::OK, &project(r, attributes, excluded));
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(&v).ok()) {
        out.headers_mut().insert(ETAG, v);
    }
    Ok(out)
}

/// The two kinds of resource, named by the path: `Users` and `Groups`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Users,
    Groups,
}

impl Kind {
    fn parse(segment: &str) -> Result<Self> {
        match segment {
            "Users" => Ok(Self::Users),
            "Groups" => Ok(Self::Groups),
            _ => Err(ScimError::not_found("no such endpoint").into()),
        }
    }
}

/// Whether `attributes` asks for members' names (`members.display`, returned on request).
fn names_asked(attributes: &[AttrPath]) -> bool {
    attributes.iter().any(|a| a.is("members", Some("display")))
}

async fn list(app: &AppState, c: &ScimClient, kind: Kind, p: ListParams) -> Result<Response> {
    let attributes = attribute_list(names(p.attributes.as_ref()).as_deref())?;
    let excluded = attribute_list(names(p.excluded_attributes.as_ref()).as_deref())?;
    let q = ScimListQuery {
        filter: p.filter,
        start_index: number(p.start_index.as_ref(), "startIndex")?,
        count: number(p.count.as_ref(), "count")?,
        sort_by: p.sort_by,
        sort_order: p.sort_order,
    };
    let page = match kind {
        Kind::Users => app.services.scim_users(c, &q).await?,
        Kind::Groups => {
            app.services
                .scim_groups(c, &q, names_asked(&attributes))
                .await?
        }
    };
    Ok(page_answer(page, &attributes, &excluded))
}

async fn list_resources(
    State(app): State<AppState>,
    Path((slug, kind)): Path<(String, String)>,
    headers: HeaderMap,
    params: std::result::Result<Query<ListParams>, QueryRejection>,
) -> Result<Response> {
    let kind = Kind::parse(&kind)?;
    let c = caller(&app, &slug, &headers).await?;
    let Ok(Query(p)) = params else {
        return Err(ScimError::invalid_value("the query parameters are not valid").into());
    };
    list(&app, &c, kind, p).await
}

async fn search_resources(
    State(app): State<AppState>,
    Path((slug, kind)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    let kind = Kind::parse(&kind)?;
    let c = caller(&app, &slug, &headers).await?;
    let doc = body(&headers, bytes)?;
    let is_search = doc["schemas"]
        .as_array()
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(SEARCH_SCHEMA)));
    if !is_search {
        return Err(
            ScimError::invalid_syntax(&format!("schemas must hold {SEARCH_SCHEMA}")).into(),
        );
    }
    let p: ListParams = serde_json::from_value(doc)
        .map_err(|_| ScimError::invalid_syntax("the search request is not valid"))?;
    list(&app, &c, kind, p).await
}

async fn create_resource(
    State(app): State<AppState>,
    Path((slug, kind)): Path<(String, String)>,
    Client(client): Client,
    headers: HeaderMap,
    bytes: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    let kind = Kind::parse(&kind)?;
    let c = caller(&app, &slug, &headers).await?;
    let doc = body(&headers, bytes)?;
    let made = match kind {
        Kind::Users => app.services.scim_create_user(&c, &doc, &client).await?,
        Kind::Groups => app.services.scim_create_group(&c, &doc, &client).await?,
    };
    Ok(resource(StatusCode::CREATED, &made))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Projection {
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

async fn get_resource(
    State(app): State<AppState>,
    Path((slug, kind, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    params: std::result::Result<Query<Projection>, QueryRejection>,
) -> Result<Response> {
    let kind = Kind::parse(&kind)?;
    let c = caller(&app, &slug, &headers).await?;
    let Ok(Query(p)) = params else {
        return Err(ScimError::invalid_value("the query parameters are not valid").into());
    };
    let attributes = attribute_list(p.attributes.as_deref())?;
    let excluded = attribute_list(p.excluded_attributes.as_deref())?;
    let r = match kind {
        Kind::Users => app.services.scim_user(&c, &id).await?,
        Kind::Groups => {
            app.services
                .scim_group(&c, &id, names_asked(&attributes))
                .await?
        }
    };
    one(&headers, r, &attributes, &excluded)
}

async fn replace_resource(
    State(app): State<AppState>,
    Path((slug, kind, id)): Path<(String, String, String)>,
    Client(client): Client,
    headers: HeaderMap,
    bytes: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    let kind = Kind::parse(&kind)?;
    let c = caller(&app, &slug, &headers).await?;
    let doc = body(&headers, bytes)?;
    let version = header(&headers, IF_MATCH);
    let r = match kind {
        Kind::Users => {
            app.services
                .scim_replace_user(&c, &id, &doc, version, &client)
                .await?
        }
        Kind::Groups => {
            app.services
                .scim_replace_group(&c, &id, &doc, version, &client)
                .await?
        }
    };
    Ok(resource(StatusCode::OK, &r))
}

async fn patch_resource(
    State(app): State<AppState>,
    Path((slug, kind, id)): Path<(String, String, String)>,
    Client(client): Client,
    headers: HeaderMap,
    bytes: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    let kind = Kind::parse(&kind)?;
    let c = caller(&app, &slug, &headers).await?;
    let doc = body(&headers, bytes)?;
    let version = header(&headers, IF_MATCH);
    let r = match kind {
        Kind::Users => {
            app.services
                .scim_patch_user(&c, &id, &doc, version, &client)
                .await?
        }
        Kind::Groups => {
            app.services
                .scim_patch_group(&c, &id, &doc, version, &client)
                .await?
        }
    };
    Ok(resource(StatusCode::OK, &r))
}

async fn delete_resource(
    State(app): State<AppState>,
    Path((slug, kind, id)): Path<(String, String, String)>,
    Client(client): Client,
    headers: HeaderMap,
) -> Result<Response> {
    let kind = Kind::parse(&kind)?;
    let c = caller(&app, &slug, &headers).await?;
    let version = header(&headers, IF_MATCH);
    match kind {
        Kind::Users => {
            app.services
                .scim_delete_user(&c, &id, version, &client)
                .await?
        }
        Kind::Groups => {
            app.services
                .scim_delete_group(&c, &id, version, &client)
                .await?
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn service_provider_config(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    caller(&app, &slug, &headers).await?;
    Ok(answer(
        StatusCode::OK,
        &discovery::service_provider_config(&base(&app, &slug)),
    ))
}

async fn resource_types(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    caller(&app, &slug, &headers).await?;
    Ok(answer(
        StatusCode::OK,
        &discovery::list(&discovery::resource_types(&base(&app, &slug))),
    ))
}

async fn resource_type(
    State(app): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    caller(&app, &slug, &headers).await?;
    discovery::resource_types(&base(&app, &slug))
        .into_iter()
        .find(|r| r["id"] == id.as_str())
        .map(|r| answer(StatusCode::OK, &r))
        .ok_or_else(|| ScimError::not_found("no such resource type").into())
}

async fn schemas(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    caller(&app, &slug, &headers).await?;
    Ok(answer(
        StatusCode::OK,
        &discovery::list(&discovery::schemas(&base(&app, &slug))),
    ))
}

async fn schema(
    State(app): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    caller(&app, &slug, &headers).await?;
    discovery::schemas(&base(&app, &slug))
        .into_iter()
        .find(|s| s["id"] == id.as_str())
        .map(|s| answer(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::not_found("no such schema").into())
}

/// `POST /.search` at the root: searching several resource types at once is not served
/// (RFC 7644 §3.4.3 allows 501); each type has its own `.search`.
async fn search_all(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    caller(&app, &slug, &headers).await?;
    Err(ScimError::status(
        501,
        "searching several resource types at once is not served; use /Users/.search",
    )
    .into())
}

async fn unknown() -> Scim {
    Scim(ScimError::not_found("no such endpoint"))
}

/// The SCIM routes: discovery, then `Users` and `Groups` by one set of handlers.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/scim/v2/{slug}/ServiceProviderConfig",
            get(service_provider_config),
        )
        .route("/scim/v2/{slug}/ResourceTypes", get(resource_types))
        .route("/scim/v2/{slug}/ResourceTypes/{id}", get(resource_type))
        .route("/scim/v2/{slug}/Schemas", get(schemas))
        .route("/scim/v2/{slug}/Schemas/{id}", get(schema))
        .route("/scim/v2/{slug}/.search", axum::routing::post(search_all))
        .route(
            "/scim/v2/{slug}/{kind}",
            get(list_resources).post(create_resource),
        )
        .route(
            "/scim/v2/{slug}/{kind}/.search",
            axum::routing::post(search_resources),
        )
        .route(
            "/scim/v2/{slug}/{kind}/{id}",
            get(get_resource)
                .put(replace_resource)
                .patch(patch_resource)
                .delete(delete_resource),
        )
        .route(
            "/scim/v2/{slug}/{kind}/{id}/{*rest}",
            get(unknown)
                .post(unknown)
                .put(unknown)
                .patch(unknown)
                .delete(unknown),
        )
}
