//! The words of every message Portcullis sends: codes, reset links and security notices,
//! as a plain-text and an HTML email or a short text message.

use crate::identity::Address;
use crate::notify::{EmailMessage, Message, SmsMessage};

/// What a message says.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Template<'a> {
    /// A code that proves the address.
    Verify { code: &'a str },
    /// A code that signs in without a password.
    Login { code: &'a str },
    /// A code and a link that reset the password.
    Reset { code: &'a str, link: &'a str },
    /// A notice of a security change ("Your password was changed.").
    Notice { what: &'a str },
}

/// Who sends, and the lifetime stated in code messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sender<'a> {
    pub(crate) org_name: &'a str,
    pub(crate) issuer: &'a str,
    pub(crate) minutes: i64,
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) const NOT_YOU: &str =
    "If you did not ask for this, you can ignore this message; nothing changes without the code.";

pub(crate) fn render(to: &Address, from: Sender<'_>, template: Template<'_>) -> Message {
    let org = from.org_name;
    let valid = format!(
        "It is valid for {} minutes and can be used once.",
        from.minutes
    );
    let (subject, lines, sms) = match template {
        Template::Verify { code } => (
            format!("{code} is your {org} verification code"),
            vec![
                format!("Your {org} verification code is {code}."),
                valid,
                NOT_YOU.to_owned(),
            ],
            format!(
                "{org}: your verification code is {code}. Valid {} min.",
                from.minutes
            ),
        ),
        Template::Login { code } => (
            format!("{code} is your {org} sign-in code"),
            vec![
                format!("Your {org} sign-in code is {code}."),
                valid,
                NOT_YOU.to_owned(),
            ],
            format!(
                "{org}: your sign-in code is {code}. Valid {} min. Never share it.",
                from.minutes
            ),
        ),
        Template::Reset { code, link } => (
            format!("Reset your {org} password"),
            vec![
                format!("Your {org} password reset code is {code}."),
                format!("Or open this link to choose a new password: {link}"),
                valid,
                NOT_YOU.to_owned(),
            ],
            format!(
                "{org}: your password reset code is {code}. Valid {} min.",
                from.minutes
            ),
        ),
        Template::Notice { what } => (
            format!("Security notice from {org}"),
            vec![
                what.to_owned(),
                format!("If this was not you, reset your password at once and contact {org}."),
            ],
            format!("{org}: {what} If this was not you, reset your password."),
        ),
    };
    match to {
        Address::Phone(p) => Message::Sms(SmsMessage {
            to: p.as_str().to_owned(),
            body: sms,
        }),
        Address::Email(e) => {
            let footer = format!("{org} · {}", from.issuer);
            let text = format!("{}\n\n-- \n{footer}\n", lines.join("\n\n"));
            let paragraphs: String = lines
                .iter()
                .map(|l| format!("<p>{}</p>", escape(l)))
                .collect();
            let html = format!(
                "<!doctype html><html><body style=\"font-family:sans-serif\">{paragraphs}\
                 <hr><p style=\"color:#666;font-size:small\">{} · <a href=\"{}\">{}</a></p></body></html>",
                escape(org),
                escape(from.issuer),
                escape(from.issuer)
            );
            Message::Email(EmailMessage {
                to: e.as_str().to_owned(),
                subject,
                text,
                html,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Email, Phone};

    const FROM: Sender<'static> = Sender {
        org_name: "Acme <Co>",
        issuer: "https://id.acme.test",
        minutes: 10,
    };

    #[test]
    pub(crate) fn emails_have_text_and_escaped_html() {
        let to = Address::Email(Email::parse("ann@example.com", "email").unwrap());
        let Message::Email(m) = render(
            &to,
            FROM,
            Template::Reset {
                code: "123456",
                link: "https://app/reset?token=t",
            },
        ) else {
            panic!("an email")
        };
        assert_eq!(m.to, "ann@example.com");
        assert!(
            m.text.contains("123456")
                && m.text.contains("https://app/reset?token=t")
                && m.text.contains("10 minutes")
        );
        assert!(m.html.contains("Acme &lt;Co&gt;") && !m.html.contains("Acme <Co>"));
        assert!(m.html.contains("https://id.acme.test"));
    }

    #[test]
    pub(crate) fn texts_are_short() {
        let to = Address::Phone(Phone::parse("+14155552671", "phone").unwrap());
        let Message::Sms(m) = render(&to, FROM, Template::Login { code: "654321" }) else {
            panic!("a text")
        };
        assert_eq!(m.to, "+14155552671");
        assert!(m.body.contains("654321") && m.body.len() <= 160);
    }
}
