//! Security questions, and password recovery by them where an organization turns it on.

use portcullis_testkit::api::{
    CodeSubmission, ProblemCode, QuestionsRequest, QuestionsResponse, ResetPasswordRequest,
    SecurityQuestion, SecurityQuestionsRequest, UpdateOrgRequest,
};
use portcullis_testkit::client::{Client, Error};
use portcullis_testkit::{both_backends, TestServer};
use reqwest::Method;

use crate::{assert_audited, code, fields};

const ANN: &str = "ann@example.com";

fn qa(q: &str, a: &str) -> SecurityQuestion {
    SecurityQuestion {
        question: q.into(),
        answer: a.into(),
    }
}

async fn call<T: serde::Serialize>(
    c: &Client,
    method: Method,
    path: &str,
    body: &T,
) -> Result<serde_json::Value, Error> {
    let res = c.request(method, path).json(body).send().await?;
    let status = res.status();
    let text = res.text().await?;
    if status.is_success() {
        return Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null));
    }
    let problem = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"));
    Err(Error::Api {
        status,
        problem: Box::new(problem),
        retry_after: None,
    })
}

fn set(items: Vec<SecurityQuestion>) -> SecurityQuestionsRequest {
    SecurityQuestionsRequest {
        security_questions: items,
    }
}

fn recover(answers: Vec<SecurityQuestion>, new_password: &str) -> ResetPasswordRequest {
    ResetPasswordRequest {
        proof: CodeSubmission::default(),
        new_password: new_password.into(),
        identifier: Some(ANN.into()),
        security_answers: Some(answers),
    }
}

async fn allow(app: &TestServer) {
    let policy = UpdateOrgRequest {
        policy: Some(serde_json::json!({"recovery_by_questions": true})),
        ..Default::default()
    };
    app.admin()
        .await
        .update_org("default", &policy)
        .await
        .unwrap();
}

async fn questions_recover_a_password_only_where_the_organization_allows_it(app: TestServer) {
    let (pair, me) = app.signed_in(ANN).await;
    let mine = set(vec![
        qa("Name of your first pet?", "Fluffy the Cat"),
        qa("City you were born in?", "Lyon"),
    ]);
    call(&me, Method::PUT, "/v1/users/me/security-questions", &mine)
        .await
        .unwrap();
    let c = app.client();
    let ask = QuestionsRequest {
        identifier: ANN.into(),
        organization: None,
    };
    assert_eq!(
        code(call(&c, Method::POST, "/v1/auth/password/questions", &ask).await),
        ProblemCode::Forbidden,
        "off by default"
    );
    let right = vec![
        qa("Name of your first pet?", "  fluffy THE   cat "),
        qa("City you were born in?", "LYON"),
    ];
    assert_eq!(
        code(
            call(
                &c,
                Method::POST,
                "/v1/auth/password/reset",
                &recover(right.clone(), "a brand new passphrase")
            )
            .await
        ),
        ProblemCode::Forbidden
    );

    allow(&app).await;
    let asked: QuestionsResponse = serde_json::from_value(
        call(&c, Method::POST, "/v1/auth/password/questions", &ask)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        asked.questions,
        ["Name of your first pet?", "City you were born in?"]
    );
    let unknown = QuestionsRequest {
        identifier: "nobody@example.com".into(),
        organization: None,
    };
    let decoys: QuestionsResponse = serde_json::from_value(
        call(&c, Method::POST, "/v1/auth/password/questions", &unknown)
            .await
            .unwrap(),
    )
    .unwrap();
    let again: QuestionsResponse = serde_json::from_value(
        call(&c, Method::POST, "/v1/auth/password/questions", &unknown)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        decoys, again,
        "unknown accounts get the same questions every time"
    );
    assert!(!decoys.questions.is_empty());

    let wrong = vec![
        qa("Name of your first pet?", "Rex"),
        qa("City you were born in?", "Lyon"),
    ];
    assert_eq!(
        code(
            call(
                &c,
                Method::POST,
                "/v1/auth/password/reset",
                &recover(wrong, "a brand new passphrase")
            )
            .await
        ),
        ProblemCode::InvalidCredentials
    );
    let partial = vec![qa("City you were born in?", "Lyon")];
    assert_eq!(
        code(
            call(
                &c,
                Method::POST,
                "/v1/auth/password/reset",
                &recover(partial, "a brand new passphrase")
            )
            .await
        ),
        ProblemCode::InvalidCredentials,
        "every question"
    );
    assert_eq!(
        code(
            call(
                &c,
                Method::POST,
                "/v1/auth/password/reset",
                &recover(right.clone(), "password")
            )
            .await
        ),
        ProblemCode::WeakPassword
    );
    call(
        &c,
        Method::POST,
        "/v1/auth/password/reset",
        &recover(right, "a brand new passphrase"),
    )
    .await
    .unwrap();
    assert_eq!(
        code(app.client().with_token(&pair.access_token).me().await),
        ProblemCode::TokenInvalid,
        "every session ended"
    );
    app.login(ANN, "a brand new passphrase").await;
    let admin = app.admin().await;
    assert_audited(
        &admin,
        Some(pair.user.id),
        &[
            "security_questions.set",
            "security_questions.failed",
            "password.reset",
        ],
    )
    .await;
}

async fn questions_are_checked_and_admins_can_set_them(app: TestServer) {
    let (pair, me) = app.signed_in(ANN).await;
    let path = "/v1/users/me/security-questions";
    assert_eq!(
        fields(call(&me, Method::PUT, path, &set(vec![])).await),
        ["security_questions"]
    );
    assert_eq!(
        fields(call(&me, Method::PUT, path, &set(vec![qa("Q one?", "a"); 6])).await),
        ["security_questions"]
    );
    assert_eq!(
        fields(call(&me, Method::PUT, path, &set(vec![qa("Pet?", "  ")])).await),
        ["security_questions[0].answer"]
    );
    assert_eq!(
        fields(
            call(
                &me,
                Method::PUT,
                path,
                &set(vec![qa("Pet?", "a"), qa("PET?", "b")])
            )
            .await
        ),
        ["security_questions[1].question"]
    );
    let admin = app.admin().await;
    let theirs = format!("/v1/users/{}/security-questions", pair.user.id);
    call(
        &admin,
        Method::PUT,
        &theirs,
        &set(vec![qa("Favourite colour?", "Blue")]),
    )
    .await
    .unwrap();
    assert_eq!(
        code(
            call(
                &me,
                Method::PUT,
                &theirs,
                &set(vec![qa("Favourite colour?", "Red")])
            )
            .await
        ),
        ProblemCode::Forbidden
    );
    let missing = format!("/v1/users/{}/security-questions", uuid::Uuid::now_v7());
    assert_eq!(
        code(
            call(
                &admin,
                Method::PUT,
                &missing,
                &set(vec![qa("Colour?", "x")])
            )
            .await
        ),
        ProblemCode::NotFound
    );
    allow(&app).await;
    call(
        &app.client(),
        Method::POST,
        "/v1/auth/password/reset",
        &recover(
            vec![qa("favourite colour?", "blue")],
            "a brand new passphrase",
        ),
    )
    .await
    .expect("the admin's questions work");
    let policy = UpdateOrgRequest {
        policy: Some(serde_json::json!({"allow_anonymous": true})),
        ..Default::default()
    };
    admin.update_org("default", &policy).await.unwrap();
    let guest = app.client().with_token(
        &app.client()
            .register_anonymous(None)
            .await
            .unwrap()
            .access_token,
    );
    assert_eq!(
        code(call(&guest, Method::PUT, path, &set(vec![qa("Pet?", "Rex")])).await),
        ProblemCode::Forbidden
    );
}

both_backends!(
    questions_recover_a_password_only_where_the_organization_allows_it,
    questions_are_checked_and_admins_can_set_them,
);
