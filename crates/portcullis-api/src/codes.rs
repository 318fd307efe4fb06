//! Codes by email and SMS, password recovery and security questions.

use super::*;

/// Asks for a code to be sent to an address (`verify/resend`, `code/request`, `password/forgot`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// Email address (used when both are given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number, E.164.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Organization slug; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// Presents a code with the address it went to (`verify`, `code/login`, `password/verify`),
/// or the token of a reset link (`password/verify`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CodeSubmission {
    /// The 6-digit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Email address the code went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number the code went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Token from a reset link, instead of code and address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `code/login` by a user with a second factor: a TOTP code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_code: Option<String>,
    /// `code/login`: a recovery code instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
    /// `code/login`: a trusted-device token instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_device_token: Option<String>,
    /// A passkey as the second factor (`POST /v1/auth/code/login` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAssertion>,
    /// Organization slug; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// `POST /v1/auth/password/reset`: a code with its address, or a link token, and the new password.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    /// The code or token, as for `password/verify`.
    #[serde(flatten)]
    pub proof: CodeSubmission,
    /// The new password.
    pub new_password: String,
    /// Recovery by security questions (where the organization allows it): the account...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// ...and the answer to every one of its questions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_answers: Option<Vec<SecurityQuestion>>,
}

/// A security question with its answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct SecurityQuestion {
    /// The question, 3 to 200 characters.
    pub question: String,
    /// The answer; case and spacing do not matter.
    pub answer: String,
}

/// `PUT /v1/users/me/security-questions` and `PUT /v1/users/{id}/security-questions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityQuestionsRequest {
    /// 1 to 5 questions; they replace any earlier ones.
    pub security_questions: Vec<SecurityQuestion>,
}

/// `POST /v1/auth/password/questions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionsRequest {
    /// Email, username or phone number.
    pub identifier: String,
    /// Organization slug; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// The questions to answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QuestionsResponse {
    /// In order.
    pub questions: Vec<String>,
}

/// The answer of requests that send something: always the same, whether or not an account exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Sent {
    /// `sent`.
    pub status: String,
}

/// `POST /v1/auth/password/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Validity {
    /// `true` (a bad code answers 400 instead).
    pub valid: bool,
}

/// `POST /v1/users/{id}/verification-code`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationCodeRequest {
    /// `email` or `sms`; default: the email address, else the phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}
