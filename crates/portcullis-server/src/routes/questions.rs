//! Security questions: set by the user or an admin, and used for password recovery only
//! where the organization allows it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portcullis_api::{
    Problem as ProblemBody, QuestionsRequest, QuestionsResponse, SecurityQuestion,
    SecurityQuestionsRequest,
};
use portcullis_core::service::QuestionAnswer;
use portcullis_core::UserId;
use uuid::Uuid;

use crate::extract::{Admin, ApiJson, ApiPath, Auth, Client};
use crate::{AppState, Problem};

pub(crate) fn answers(items: Vec<SecurityQuestion>) -> Vec<QuestionAnswer> {
    items
        .into_iter()
        .map(|q| QuestionAnswer {
            question: q.question,
            answer: q.answer,
        })
        .collect()
}

/// Set the own security questions (1 to 5; they replace any earlier ones).
#[utoipa::path(put, path = "/v1/users/me/security-questions", tag = "me", security(("bearer" = [])),
    request_body = SecurityQuestionsRequest,
    responses(
        (status = 204, description = "Set"),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`: guest account", body = ProblemBody),
    ))]
pub(crate) async fn set_my_questions(
    State(app): State<AppState>,
    Auth(who): Auth,
    Client(client): Client,
    ApiJson(body): ApiJson<SecurityQuestionsRequest>,
) -> Result<StatusCode, Problem> {
    app.services
        .set_my_questions(&who, &answers(body.security_questions), &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a user's security questions (admin).
#[utoipa::path(put, path = "/v1/users/{id}/security-questions", tag = "admin", security(("bearer" = [])),
    request_body = SecurityQuestionsRequest, params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Set"),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn set_user_questions(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<SecurityQuestionsRequest>,
) -> Result<StatusCode, Problem> {
    app.services
        .admin_set_questions(
            &admin,
            UserId(id),
            &answers(body.security_questions),
            &client,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The questions to answer for password recovery, where the organization allows it.
#[utoipa::path(post, path = "/v1/auth/password/questions", tag = "codes", request_body = QuestionsRequest,
    responses(
        (status = 200, body = QuestionsResponse),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`: the organization does not allow it", body = ProblemBody),
    ))]
pub(crate) async fn recovery_questions(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<QuestionsRequest>,
) -> Result<Json<QuestionsResponse>, Problem> {
    let questions = app
        .services
        .recovery_questions(&body.identifier, body.organization.as_deref())
        .await?;
    Ok(Json(QuestionsResponse { questions }))
}
