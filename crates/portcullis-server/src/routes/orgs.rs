//! Organizations: created, listed and changed by a `system_admin`; read by their own admins.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portcullis_api::{
    CreateOrgRequest, OrgList, Organization, Problem as ProblemBody, UpdateOrgRequest,
};
use portcullis_core::service::OrgInput;
use portcullis_core::OrgId;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{cursor, limit, next_cursor};
use crate::convert;
use crate::extract::{Admin, ApiJson, ApiPath, ApiQuery, Client};
use crate::{AppState, Problem};

/// Paging of the organization list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct OrgQuery {
    /// Page size, 1 to 200 (default 50).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Create an organization (`system_admin`).
#[utoipa::path(post, path = "/v1/orgs", tag = "orgs", security(("bearer" = [])), request_body = CreateOrgRequest,
    responses(
        (status = 201, body = Organization),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 409, description = "`duplicate`: the slug is taken", body = ProblemBody),
    ))]
pub(crate) async fn create_org(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiJson(body): ApiJson<CreateOrgRequest>,
) -> Result<(StatusCode, Json<Organization>), Problem> {
    let input = OrgInput {
        slug: Some(body.slug),
        name: Some(body.name),
        policy: body.policy,
        client,
    };
    let org = app.services.create_org(&admin, input).await?;
    Ok((StatusCode::CREATED, Json(convert::organization(org))))
}

/// Every organization (`system_admin`).
#[utoipa::path(get, path = "/v1/orgs", tag = "orgs", security(("bearer" = [])), params(OrgQuery),
    responses(
        (status = 200, body = OrgList),
        (status = 403, description = "`forbidden`", body = ProblemBody),
    ))]
pub(crate) async fn list_orgs(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiQuery(q): ApiQuery<OrgQuery>,
) -> Result<Json<OrgList>, Problem> {
    let limit = limit(q.limit)?;
    let after = cursor::<Uuid>(q.cursor.as_deref())?.map(OrgId);
    let orgs = app.services.list_orgs(&admin, after, limit).await?;
    let next = next_cursor(&orgs, limit, |o| o.id.to_string());
    Ok(Json(OrgList {
        items: orgs.into_iter().map(convert::organization).collect(),
        next_cursor: next,
    }))
}

/// One organization (`system_admin`, or an `org_admin` of it).
#[utoipa::path(get, path = "/v1/orgs/{slug}", tag = "orgs", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug")),
    responses(
        (status = 200, body = Organization),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn get_org(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Organization>, Problem> {
    Ok(Json(convert::organization(
        app.services.get_org(&admin, &slug).await?,
    )))
}

/// Change an organization's name or policy (`system_admin`).
#[utoipa::path(patch, path = "/v1/orgs/{slug}", tag = "orgs", security(("bearer" = [])), request_body = UpdateOrgRequest,
    params(("slug" = String, Path, description = "Organization slug")),
    responses(
        (status = 200, body = Organization),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn update_org(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateOrgRequest>,
) -> Result<Json<Organization>, Problem> {
    let input = OrgInput {
        slug: None,
        name: body.name,
        policy: body.policy,
        client,
    };
    Ok(Json(convert::organization(
        app.services.update_org(&admin, &slug, input).await?,
    )))
}
