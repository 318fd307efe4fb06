//! Codes and the outbox: issuing, checking and consuming codes; leasing messages across workers.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use portcullis_core::audit::{AuditKind, ClientInfo};
use portcullis_core::model::Organization;
use portcullis_core::store::{
    AuditFilter, CodeIssue, CodeOutcome, LookupKey, NewCode, OutboxStats, Purpose, QueuedMessage,
    Store,
};

use crate::{default_org, new_user, t0};

pub(crate) fn message(
    org: &Organization,
    to: &str,
    purpose: &str,
    at: DateTime<Utc>,
) -> QueuedMessage {
    QueuedMessage {
        id: uuid::Uuid::now_v7(),
        org_id: Some(org.id),
        purpose: purpose.into(),
        recipient: to.into(),
        payload: "sealed".into(),
        created_at: at,
        attempts: 0,
    }
}

/// `code` with its message to its destination, within a daily cap of `cap` counted from t0,
/// claiming the interval's counter `claim` if given.
pub(crate) fn issue(
    org: &Organization,
    code: &NewCode,
    cap: u64,
    claim: Option<&str>,
) -> CodeIssue {
    let event = |kind| {
        portcullis_core::audit::AuditEvent::new(kind, Some(org.id), t0(), &ClientInfo::default())
            .user(code.user_id)
    };
    CodeIssue {
        code: code.clone(),
        message: message(org, &code.destination, &code.purpose, t0()),
        cap_since: t0(),
        daily_cap: cap,
        // A window of its own, apart from the rate-limit windows the limits suite counts.
        claim: claim.map(|k| (k.to_owned(), t0() + Duration::hours(1))),
        retire_earlier: true,
        issued: event(AuditKind::CodeSent),
        held_back: event(AuditKind::MessageSuppressed),
    }
}

/// Codes: one live per purpose, tries counted, single use; the outbox: leases, retries, wipes.
pub(crate) async fn codes_and_outbox(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let org = default_org(s).await;
    let ann = s
        .insert_user(&new_user(&org, "codes@example.com"))
        .await
        .unwrap();
    let code = |purpose: &str, token: Option<&str>| NewCode {
        id: uuid::Uuid::now_v7(),
        user_id: ann.id,
        purpose: purpose.into(),
        destination: "codes@example.com".into(),
        code_hash: "h".into(),
        token_hash: token.map(str::to_owned),
        created_at: t0(),
        expires_at: t0() + Duration::minutes(10),
    };
    let first = code("reset", Some("tok1"));
    let issued = s.issue_code(&issue(&org, &first, 5, None)).await.unwrap();
    assert_eq!(issued, CodeOutcome::Issued);
    let second = code("reset", Some("tok2"));
    let issued = s.issue_code(&issue(&org, &second, 5, None)).await.unwrap();
    assert_eq!(issued, CodeOutcome::Issued);
    // The day's cap counts the messages of the purpose to the address: two reset so far.
    let capped = code("reset", Some("tok3"));
    assert_eq!(
        s.issue_code(&issue(&org, &capped, 2, Some("message:reset")))
            .await
            .unwrap(),
        CodeOutcome::OverDailyCap
    );
    assert!(
        s.code_by_token("tok3").await.unwrap().is_none(),
        "held back"
    );
    let suppressed = AuditFilter {
        kind: Some("message.suppressed".into()),
        limit: 10,
        ..AuditFilter::default()
    };
    assert_eq!(s.list_audit(&suppressed).await.unwrap().len(), 1);
    let login = code("login", None);
    let claimed = s
        .issue_code(&issue(&org, &login, 5, Some("message:login")))
        .await
        .unwrap();
    assert_eq!(claimed, CodeOutcome::Issued);
    // The interval's counter is taken: a second code in it is held back, and the first
    // stays live.
    assert_eq!(
        s.issue_code(&issue(&org, &code("login", None), 5, Some("message:login")))
            .await
            .unwrap(),
        CodeOutcome::TooSoon
    );
    let sent = AuditFilter {
        kind: Some("code.sent".into()),
        limit: 10,
        ..AuditFilter::default()
    };
    assert_eq!(
        s.list_audit(&sent).await.unwrap().len(),
        3,
        "one a code issued"
    );
    assert_eq!(
        s.live_code(ann.id, Purpose::Reset)
            .await
            .unwrap()
            .unwrap()
            .id,
        second.id,
        "a new code retires the old"
    );
    assert!(s.code_by_token("tok1").await.unwrap().unwrap().consumed);
    assert!(!s.code_by_token("tok2").await.unwrap().unwrap().consumed);
    assert!(s.code_by_token("nope").await.unwrap().is_none());
    assert_eq!(
        s.live_code(ann.id, Purpose::Login)
            .await
            .unwrap()
            .unwrap()
            .id,
        login.id,
        "purposes are apart"
    );
    assert_eq!(s.take_code_try(second.id, 2).await.unwrap(), Some(1));
    s.return_code_try(second.id).await.unwrap();
    assert_eq!(s.take_code_try(second.id, 2).await.unwrap(), Some(1));
    assert_eq!(s.take_code_try(second.id, 2).await.unwrap(), Some(2));
    assert_eq!(
        s.take_code_try(second.id, 2).await.unwrap(),
        None,
        "no try left"
    );
    assert!(
        !s.consume_code(second.id, 2, t0()).await.unwrap(),
        "out of tries"
    );
    assert!(
        !s.consume_code(login.id, 5, t0() + Duration::minutes(11))
            .await
            .unwrap(),
        "expired"
    );
    assert!(s.consume_code(login.id, 5, t0()).await.unwrap());
    assert!(!s.consume_code(login.id, 5, t0()).await.unwrap(), "once");
    assert!(s.live_code(ann.id, Purpose::Login).await.unwrap().is_none());
    assert!(s
        .mark_verified(ann.id, &LookupKey::Email("codes@example.com".into()), t0())
        .await
        .unwrap());
    assert!(!s
        .mark_verified(ann.id, &LookupKey::Email("other@example.com".into()), t0())
        .await
        .unwrap());
    assert!(s.user_by_id(ann.id).await.unwrap().unwrap().email_verified);

    s.enqueue(&message(&org, "codes@example.com", "notice", t0()))
        .await
        .unwrap();
    assert_eq!(
        s.outbox_stats().await.unwrap(),
        OutboxStats {
            pending: 4,
            retrying: 0,
            failed: 0
        }
    );

    // Leases: taken once; a lapsed lease makes the message due again.
    let now = t0();
    let batch = s
        .claim_messages(now, now + Duration::seconds(60), 3)
        .await
        .unwrap();
    assert_eq!(batch.len(), 3);
    assert!(batch.windows(2).all(|w| w[0].id < w[1].id) && batch[0].attempts == 1);
    let rest = s
        .claim_messages(now, now + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1, "leased ones are not taken again");
    assert!(s
        .claim_messages(now, now + Duration::seconds(60), 10)
        .await
        .unwrap()
        .is_empty());
    let again = s
        .claim_messages(
            now + Duration::seconds(61),
            now + Duration::seconds(120),
            10,
        )
        .await
        .unwrap();
    assert_eq!(again.len(), 4, "lapsed leases come back");
    s.message_sent(again[0].id, now).await.unwrap();
    s.message_failed(
        again[1].id,
        Some(now + Duration::hours(1)),
        "smtp down",
        now,
    )
    .await
    .unwrap();
    s.message_failed(again[2].id, None, "gave up", now)
        .await
        .unwrap();
    assert_eq!(
        s.outbox_stats().await.unwrap(),
        OutboxStats {
            pending: 1,
            retrying: 1,
            failed: 1
        }
    );
    let later = now + Duration::minutes(30);
    let due = s
        .claim_messages(later, later + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|m| m.id).collect::<Vec<_>>(),
        [again[3].id],
        "the failed one waits for its retry time"
    );
    let retry = s
        .claim_messages(now + Duration::hours(2), now + Duration::hours(3), 10)
        .await
        .unwrap();
    assert_eq!(
        retry.iter().map(|m| m.id).collect::<Vec<_>>(),
        [again[1].id, again[3].id]
    );
    assert_eq!(retry[0].attempts, 3);
    // Deleting the user removes their codes.
    s.delete_user(ann.id).await.unwrap();
    assert!(s.code_by_token("tok2").await.unwrap().is_none());
}

/// Workers racing for the outbox never take the same message.
pub(crate) async fn outbox_race(store: Arc<dyn Store>) {
    let org = default_org(store.as_ref()).await;
    for i in 0..40 {
        store
            .enqueue(&message(&org, &format!("r{i}@example.com"), "notice", t0()))
            .await
            .unwrap();
    }
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let st = Arc::clone(&store);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = st
                        .claim_messages(t0(), t0() + Duration::seconds(60), 3)
                        .await
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|m| m.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!((n, all.len()), (40, 40), "each message leased exactly once");
}

/// A new account and the code proving its address commit together: a taken address makes
/// neither, and the code's limits hold inside the account's transaction.
pub(crate) async fn new_account_with_code(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let org = default_org(s).await;
    let user = new_user(&org, "fresh@example.com");
    let verify = NewCode {
        id: uuid::Uuid::now_v7(),
        user_id: user.id,
        purpose: "verify_email".into(),
        destination: "fresh@example.com".into(),
        code_hash: "h".into(),
        token_hash: None,
        created_at: t0(),
        expires_at: t0() + Duration::minutes(10),
    };
    let mut first = issue(&org, &verify, 5, Some("message:fresh"));
    first.retire_earlier = false;
    let (made, outcomes) = s.create_user(&user, &[first.clone()]).await.unwrap();
    assert_eq!(outcomes, vec![CodeOutcome::Issued]);
    assert_eq!(made.org_slug, org.slug, "answered with its organization");
    let live = s.live_code(user.id, Purpose::VerifyEmail).await.unwrap();
    assert_eq!(live.map(|c| c.id), Some(verify.id));

    // The same address again: a conflict, and no second code or message.
    let twin = new_user(&org, "fresh@example.com");
    let mut again = issue(
        &org,
        &NewCode {
            id: uuid::Uuid::now_v7(),
            user_id: twin.id,
            ..verify.clone()
        },
        5,
        None,
    );
    again.retire_earlier = false;
    assert!(s.create_user(&twin, &[again]).await.is_err());
    assert!(s.user_by_id(twin.id).await.unwrap().is_none());
    let queued = s.outbox_stats().await.unwrap().pending;

    // Another account whose code comes too soon after the first to the same counter: the
    // account is made, its code is not.
    let other = new_user(&org, "other-fresh@example.com");
    let mut late = issue(
        &org,
        &NewCode {
            id: uuid::Uuid::now_v7(),
            user_id: other.id,
            destination: "other-fresh@example.com".into(),
            ..verify
        },
        5,
        Some("message:fresh"),
    );
    late.retire_earlier = false;
    let (_, outcomes) = s.create_user(&other, &[late]).await.unwrap();
    assert_eq!(outcomes, vec![CodeOutcome::TooSoon]);
    assert!(s
        .live_code(other.id, Purpose::VerifyEmail)
        .await
        .unwrap()
        .is_none());
    assert_eq!(s.outbox_stats().await.unwrap().pending, queued);
}
