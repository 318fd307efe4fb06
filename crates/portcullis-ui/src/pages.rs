//! The templates (in `templates/`, checked at compile time) and what each is given.

use askama::Template;
use portcullis_core::model::Organization;

use crate::web::Flow;

/// What every page shows around its content.
pub(crate) struct Chrome {
    pub(crate) title: String,
    /// The organization's slug, name and logo.
    pub(crate) org: String,
    pub(crate) org_name: String,
    pub(crate) logo: Option<String>,
    /// The CSRF token for this page's forms.
    pub(crate) csrf: String,
    /// Who is signed in, when someone is.
    pub(crate) user: Option<String>,
    /// Whether to show the console link.
    pub(crate) admin: bool,
    pub(crate) notice: Option<String>,
    pub(crate) error: Option<String>,
}

impl Chrome {
    pub(crate) fn new(title: &str, org: Option<&Organization>, csrf: String) -> Self {
        Self {
            title: title.to_owned(),
            org: org.map_or_else(|| Organization::DEFAULT_SLUG.to_owned(), |o| o.slug.clone()),
            org_name: org.map_or_else(|| "Portcullis".to_owned(), |o| o.name.clone()),
            logo: org.and_then(|o| o.policy.brand_logo_url.clone()),
            csrf,
            user: None,
            admin: false,
            notice: None,
            error: None,
        }
    }

    pub(crate) fn with_error(mut self, error: Option<String>) -> Self {
        self.error = error;
        self
    }

    pub(crate) fn with_notice(mut self, notice: Option<String>) -> Self {
        self.notice = notice;
        self
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct Message {
    pub(crate) c: Chrome,
    pub(crate) text: String,
    /// A link onwards: (href, text).
    pub(crate) link: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "signin.html")]
pub(crate) struct SignIn {
    pub(crate) c: Chrome,
    pub(crate) flow: Flow,
    pub(crate) query: String,
    pub(crate) identifier: String,
    /// "Continue with" the organization's identity providers.
    pub(crate) upstream: Vec<crate::upstream::UpstreamLink>,
}

#[derive(Template)]
#[template(path = "second_factor.html")]
pub(crate) struct SecondFactorPage {
    pub(crate) c: Chrome,
    pub(crate) methods: String,
    /// The account has a passkey: offer it.
    pub(crate) passkey: bool,
    /// The organization (for the passkey ceremony).
    pub(crate) org: String,
}

#[derive(Template)]
#[template(path = "signup.html")]
pub(crate) struct SignUp {
    pub(crate) c: Chrome,
    pub(crate) flow: Flow,
    pub(crate) query: String,
    /// "Continue with" the organization's identity providers.
    pub(crate) upstream: Vec<crate::upstream::UpstreamLink>,
    pub(crate) email: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
}

#[derive(Template)]
#[template(path = "verify.html")]
pub(crate) struct Verify {
    pub(crate) c: Chrome,
    pub(crate) flow: Flow,
    pub(crate) query: String,
    pub(crate) email: String,
}

#[derive(Template)]
#[template(path = "code.html")]
pub(crate) struct CodeSignIn {
    pub(crate) c: Chrome,
    pub(crate) flow: Flow,
    pub(crate) query: String,
    pub(crate) email: String,
    /// The code was sent: ask for it.
    pub(crate) sent: bool,
}

#[derive(Template)]
#[template(path = "forgot.html")]
pub(crate) struct Forgot {
    pub(crate) c: Chrome,
    pub(crate) flow: Flow,
    pub(crate) query: String,
}

#[derive(Template)]
#[template(path = "reset.html")]
pub(crate) struct Reset {
    pub(crate) c: Chrome,
    pub(crate) flow: Flow,
    pub(crate) query: String,
    pub(crate) token: String,
    pub(crate) email: String,
}

/// A row of a list on the account page or the console.
pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) cells: Vec<String>,
    /// This row is the current session.
    pub(crate) current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
pub(crate) struct Account {
    pub(crate) c: Chrome,
    pub(crate) email: String,
    pub(crate) phone: String,
    pub(crate) username: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) email_verified: bool,
    pub(crate) mfa_enabled: bool,
    /// The organization requires a second factor and this session may only enrol one.
    pub(crate) enrolment_only: bool,
    pub(crate) devices: Vec<Row>,
    pub(crate) passkeys: Vec<Row>,
    pub(crate) sessions: Vec<Row>,
    pub(crate) tokens: Vec<Row>,
    /// The applications the user authorized (OpenID Connect).
    pub(crate) apps: Vec<Row>,
    /// The upstream accounts linked to the user.
    pub(crate) identities: Vec<Row>,
    /// The providers the user may link.
    pub(crate) link: Vec<crate::upstream::UpstreamLink>,
}

#[derive(Template)]
#[template(path = "totp.html")]
pub(crate) struct Totp {
    pub(crate) c: Chrome,
    pub(crate) key_id: String,
    pub(crate) secret: String,
    pub(crate) qr_png: String,
    pub(crate) uri: String,
}

/// Secrets shown this once (recovery codes, an application token).
#[derive(Template)]
#[template(path = "once.html")]
pub(crate) struct Once {
    pub(crate) c: Chrome,
    pub(crate) intro: String,
    pub(crate) items: Vec<String>,
    /// Where "Done" goes.
    pub(crate) next: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
pub(crate) struct AdminUsers {
    pub(crate) c: Chrome,
    pub(crate) query: String,
    pub(crate) users: Vec<Row>,
    pub(crate) next: Option<String>,
    pub(crate) orgs: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_user.html")]
pub(crate) struct AdminUser {
    pub(crate) c: Chrome,
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) phone: String,
    pub(crate) username: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) organization: String,
    pub(crate) active: bool,
    pub(crate) roles: String,
    pub(crate) mfa_enabled: bool,
    pub(crate) facts: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "admin_orgs.html")]
pub(crate) struct AdminOrgs {
    pub(crate) c: Chrome,
    pub(crate) orgs: Vec<Row>,
}

#[derive(Template)]
#[template(path = "admin_org.html")]
pub(crate) struct AdminOrg {
    pub(crate) c: Chrome,
    pub(crate) slug: String,
    pub(crate) name: String,
    pub(crate) policy: String,
    pub(crate) system: bool,
    pub(crate) licenses: Vec<Row>,
    pub(crate) devices: Vec<Row>,
    /// OAuth clients; `current` marks the confidential ones (they have a secret to rotate).
    pub(crate) clients: Vec<Row>,
    /// Webhook endpoints; `current` marks the enabled ones.
    pub(crate) webhooks: Vec<Row>,
    /// Identity providers; `current` marks the enabled ones.
    pub(crate) providers: Vec<Row>,
    /// SCIM tokens.
    pub(crate) scim_tokens: Vec<Row>,
    /// The organization's SCIM base URL.
    pub(crate) scim_base: String,
}

#[derive(Template)]
#[template(path = "admin_webhook.html")]
pub(crate) struct AdminWebhook {
    pub(crate) c: Chrome,
    pub(crate) slug: String,
    pub(crate) id: String,
    pub(crate) url: String,
    /// Recent deliveries, newest first; `id` is the event's.
    pub(crate) deliveries: Vec<Row>,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
pub(crate) struct AdminAudit {
    pub(crate) c: Chrome,
    pub(crate) user_id: String,
    pub(crate) kind: String,
    pub(crate) since: String,
    pub(crate) events: Vec<Row>,
    pub(crate) next: Option<String>,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub(crate) struct ConsentPage {
    pub(crate) c: Chrome,
    /// The sealed authorization request.
    pub(crate) request: String,
    pub(crate) client: String,
    /// The scopes, in words.
    pub(crate) scopes: Vec<&'static str>,
    pub(crate) account: String,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
pub(crate) struct SignedOut {
    pub(crate) c: Chrome,
    /// Ask before signing out (the application could not prove who it signs out).
    pub(crate) confirm: bool,
    /// The sealed logout request.
    pub(crate) request: String,
    pub(crate) client: Option<String>,
}
