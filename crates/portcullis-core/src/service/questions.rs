//! Security questions. OWASP ASVS 5.0 (6.4.2) and NIST SP 800-63B advise against them for
//! recovery, so using them to reset a password stays off unless an organization turns
//! `recovery_by_questions` on. Answers are normalised (NFKC, case, spacing) and hashed with
//! argon2id like passwords.

use sha2::{Digest, Sha256};
use tracing::instrument;
use unicode_normalization::UnicodeNormalization;

use super::kernel::authz::OrgAdmin;
use super::kernel::identifiers::{sign_in_key, unknown_identifier_lock};
use super::{Principal, Services};
use crate::audit::{AuditKind, ClientInfo};
use crate::error::{AuthError, FieldError};
use crate::ids::UserId;
use crate::model::User;
use crate::password::{Password, Verified};
use crate::store::LockKey;

/// A question and its answer, as received.
#[derive(Debug, Clone, Default)]
pub struct QuestionAnswer {
    /// The question.
    pub question: String,
    /// The answer.
    pub answer: String,
}

/// Questions shown for identifiers with no questions (or no account), so that the answer
/// does not tell whether the account exists: the questions people commonly choose, in the
/// words they commonly use, so that a decoy reads like a real set.
const DECOYS: [&str; 24] = [
    "What was the name of your first pet?",
    "In what city were you born?",
    "What was the name of your first school?",
    "What is your favourite book?",
    "What was the make of your first car?",
    "What street did you grow up on?",
    "What is your mother's maiden name?",
    "What was your childhood nickname?",
    "What is the name of your best friend from childhood?",
    "What was the name of your first teacher?",
    "In what city did your parents meet?",
    "What was your first job?",
    "What is your favourite film?",
    "What is the middle name of your oldest sibling?",
    "What was the first concert you went to?",
    "Name of your first pet?",
    "City you were born in?",
    "Favourite teacher?",
    "What is your father's middle name?",
    "Where did you go on your first holiday?",
    "What was the name of your first stuffed animal?",
    "What is your favourite food?",
    "In what town was your first job?",
    "What was the model of your first phone?",
];

fn normalise_answer(raw: &str) -> String {
    raw.nfkc()
        .collect::<String>()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_questions(items: &[QuestionAnswer]) -> Result<Vec<(String, String)>, AuthError> {
    if !(1..=5).contains(&items.len()) {
        return Err(AuthError::invalid(
            "security_questions",
            "give 1 to 5 questions",
        ));
    }
    let mut errors = Vec::new();
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let q = item.question.trim();
        let a = normalise_answer(&item.answer);
        if !(3..=200).contains(&q.chars().count()) || q.chars().any(char::is_control) {
            errors.push(FieldError::new(
                format!("security_questions[{i}].question"),
                "must be 3 to 200 characters",
            ));
        } else if out.iter().any(|(prev, _)| prev.eq_ignore_ascii_case(q)) {
            errors.push(FieldError::new(
                format!("security_questions[{i}].question"),
                "is asked twice",
            ));
        }
        if a.is_empty() || a.chars().count() > 200 {
            errors.push(FieldError::new(
                format!("security_questions[{i}].answer"),
                "must be 1 to 200 characters",
            ));
        }
        out.push((q.to_owned(), a));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(AuthError::Validation(errors))
    }
}

impl Services {
    async fn store_questions(
        &self,
        user: &User,
        items: &[QuestionAnswer],
        actor: UserId,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        if user.anonymous {
            return Err(AuthError::Forbidden(
                "a guest account cannot have security questions; upgrade it first",
            ));
        }
        let mut hashed = Vec::new();
        for (question, answer) in parse_questions(items)? {
            hashed.push((question, self.hasher.hash(&Password::new(&answer)).await?));
        }
        self.changed(
            self.event(AuditKind::QuestionsSet, user.org_id, client)
                .user(user.id)
                .actor(actor)
                .detail("count", hashed.len()),
            self.store
                .set_security_questions(user.id, &hashed, self.now()),
            |_| true,
        )
        .await?;
        Ok(())
    }

    /// The texts of a user's security questions, in order (never the answers, which are
    /// kept only as hashes).
    pub async fn question_texts(&self, user: &User) -> Result<Vec<String>, AuthError> {
        Ok(self
            .store
            .security_questions(user.id)
            .await?
            .into_iter()
            .map(|(q, _)| q)
            .collect())
    }

    /// Sets the caller's security questions (replacing any earlier ones).
    #[instrument(skip_all, fields(user.id = %who.user.id))]
    pub async fn set_my_questions(
        &self,
        who: &Principal,
        items: &[QuestionAnswer],
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        self.store_questions(&who.user, items, who.user.id, client)
            .await
    }

    /// An admin sets a user's security questions.
    #[instrument(skip_all, fields(user.id = %id))]
    pub async fn admin_set_questions(
        &self,
        admin: &OrgAdmin,
        id: UserId,
        items: &[QuestionAnswer],
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let user = self.managed_user(admin, id).await?;
        self.store_questions(&user, items, admin.actor().user.id, client)
            .await
    }

    /// The account an identifier names in an organization that allows recovery by questions.
    async fn questions_target(
        &self,
        identifier: &str,
        organization: Option<&str>,
    ) -> Result<Option<User>, AuthError> {
        let org = self.org(organization).await?;
        if !org.policy.recovery_by_questions {
            return Err(AuthError::Forbidden(
                "this organization does not allow password recovery by security questions",
            ));
        }
        let key = sign_in_key(identifier)?;
        Ok(self
            .store
            .credentials(org.id, &key)
            .await?
            .map(|c| c.user)
            .filter(|u| u.active))
    }

    /// The questions to answer for an identifier; an identifier without questions (or
    /// without an account) gets three stable decoys, so the answer does not tell.
    pub async fn recovery_questions(
        &self,
        identifier: &str,
        organization: Option<&str>,
    ) -> Result<Vec<String>, AuthError> {
        if let Some(user) = self.questions_target(identifier, organization).await? {
            let questions = self.store.security_questions(user.id).await?;
            if !questions.is_empty() {
                return Ok(questions.into_iter().map(|(q, _)| q).collect());
            }
        }
        let pepper = self.master.derive("question-decoys");
        let digest = Sha256::new()
            .chain_update(pepper.as_ref())
            .chain_update(identifier.trim().to_lowercase())
            .finalize();
        // Two or three questions, as people set, the same ones every time for this
        // identifier (keyed by a server secret, so no one can compute them elsewhere).
        let count = 2 + usize::from(digest[0] % 2);
        let mut picked: Vec<String> = Vec::new();
        for byte in digest.iter().skip(1) {
            let q = DECOYS[usize::from(*byte) % DECOYS.len()].to_owned();
            if !picked.contains(&q) {
                picked.push(q);
            }
            if picked.len() == count {
                break;
            }
        }
        Ok(picked)
    }

    /// Resets a password with the answers to every one of the account's questions; every
    /// session ends. An enrolled second factor is still asked for at the next sign-in.
    #[instrument(skip_all)]
    pub async fn reset_password_by_questions(
        &self,
        identifier: &str,
        organization: Option<&str>,
        answers: &[QuestionAnswer],
        new_password: &str,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        if new_password.is_empty() {
            return Err(AuthError::invalid("new_password", "is required"));
        }
        self.rate_limit(client, super::kernel::limits::Limit::ClientAnd(identifier))
            .await?;
        let user = self.questions_target(identifier, organization).await?;
        let org = self.org(organization).await?;
        let lock = match &user {
            Some(u) => LockKey::user(u.id),
            None => unknown_identifier_lock(org.id, &sign_in_key(identifier)?),
        };
        self.check_lock(&lock).await?;
        let stored = match &user {
            Some(u) => self.store.security_questions(u.id).await?,
            None => Vec::new(),
        };
        // Check every answer (a dummy check for a missing one), so failures take as long.
        let mut all_right = !stored.is_empty() && answers.len() == stored.len();
        for (question, hash) in &stored {
            let given = answers
                .iter()
                .find(|a| a.question.trim().eq_ignore_ascii_case(question))
                .map(|a| normalise_answer(&a.answer));
            let verdict = self
                .hasher
                .verify(&Password::new(given.as_deref().unwrap_or("")), Some(hash))
                .await?;
            all_right &= given.is_some() && verdict != Verified::No;
        }
        if stored.is_empty() {
            self.hasher
                .verify(&Password::new(new_password), None)
                .await?;
        }
        let Some(user) = user.clone().filter(|_| all_right) else {
            let mut event = self.event(AuditKind::QuestionsFailed, org.id, client);
            if let Some(u) = &user {
                event = event.user(u.id);
            }
            self.audit(event).await;
            self.count_failure(
                &lock,
                &org.policy,
                org.id,
                user.as_ref().map(|u| u.id),
                client,
            )
            .await?;
            return Err(AuthError::InvalidCredentials);
        };
        let hash = self.replacement_hash(&user, new_password).await?;
        self.changed(
            self.event(AuditKind::PasswordReset, user.org_id, client)
                .user(user.id)
                .actor(user.id)
                .detail("method", "security_questions"),
            self.store.change_password(user.id, &hash, None, self.now()),
            |_| true,
        )
        .await?;
        // A reset proves the owner: it lifts a lockout too.
        self.clear_lock(user.id).await?;
        self.send_notice(
            &user,
            "Your password was reset with your security questions.",
        )
        .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_normalised_and_questions_checked() {
        assert_eq!(normalise_answer("  Fluffy   the\tCat "), "fluffy the cat");
        assert_eq!(normalise_answer("ＦＬＵＦＦＹ"), "fluffy");
        let qa = |q: &str, a: &str| QuestionAnswer {
            question: q.into(),
            answer: a.into(),
        };
        assert!(parse_questions(&[]).is_err());
        assert!(parse_questions(&vec![qa("Pet name?", "x"); 6]).is_err());
        assert!(
            parse_questions(&[qa("Pet name?", "x"), qa("pet name?", "y")]).is_err(),
            "twice"
        );
        assert!(parse_questions(&[qa("Pet name?", "   ")]).is_err());
        assert!(parse_questions(&[qa("Pet name?", "Rex"), qa("First car?", "Fiat")]).is_ok());
    }
}
