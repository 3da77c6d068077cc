//! Members' data inside an operation, a Sidekiq job's JSON above all (its arguments and
//! error message hold posts, DMs and e-mail addresses), is sent exactly but shown and
//! recorded only as a fingerprint: which job it is, its size, and a hash that tells two
//! payloads apart. None of its bytes reach a preview, the audit log or a handoff report.

use sha2::{Digest, Sha256};

/// Hex digits of SHA-256 kept: enough that two different payloads never look alike on
/// screen or in the audit, short enough to read.
const HASH_DIGITS: usize = 16;

/// `<job FlakyJob jid c4f32d1938b9d4f7e11b7c04, 140 bytes, sha256 1a2b3c4d5e6f7a8b>` for a
/// job, `<private value, 22 bytes, sha256 …>` for anything else. The class (Sidekiq's
/// display class: ActiveJob's `wrapped` when there is one) and the jid are named only when
/// they look like a Ruby constant and a job id, so a payload cannot smuggle text in there.
pub fn of(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let hash: String = digest
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .take(HASH_DIGITS)
        .map(|n| char::from_digit(u32::from(n), 16).unwrap_or('0'))
        .collect();
    let what = match crate::sources::sidekiq::parse_job(value.as_bytes()) {
        Some(job) => {
            let mut what = String::from("job");
            let class = job
                .wrapped
                .as_deref()
                .filter(|w| is_class_name(w))
                .or_else(|| Some(job.class.as_str()).filter(|c| is_class_name(c)));
            if let Some(class) = class {
                what.push(' ');
                what.push_str(class);
            }
            if is_jid(&job.jid) {
                what.push_str(" jid ");
                what.push_str(&job.jid);
            }
            what
        }
        None => "private value".to_string(),
    };
    format!("<{what}, {} bytes, sha256 {hash}>", value.len())
}

/// Whether a value is a job's JSON: a JSON object, as every Sidekiq payload is.
pub fn looks_like_a_job(value: &str) -> bool {
    value.trim_start().starts_with('{')
        && serde_json::from_str::<serde_json::Value>(value).is_ok_and(|v| v.is_object())
}

/// `Mastodon::FetchLinkCardService`, `ActivityPub::DeliveryWorker`.
fn is_class_name(s: &str) -> bool {
    s.len() <= 120
        && s.split("::").all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// Sidekiq's 24 hex digits, or any other short id of letters, digits, `-` and `_`.
fn is_jid(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_named_by_class_jid_size_and_hash_only() {
        let job = r#"{"args":["secret-arg@example.org"],"class":"FlakyJob","jid":"c4f32d1938b9d4f7e11b7c04","error_message":"boom for secret-arg@example.org","queue":"default"}"#;
        let shown = of(job);
        assert!(
            shown.starts_with(&format!(
                "<job FlakyJob jid c4f32d1938b9d4f7e11b7c04, {} bytes, sha256 ",
                job.len()
            )),
            "{shown}"
        );
        assert!(
            !shown.contains("secret") && !shown.contains("boom"),
            "{shown}"
        );
        assert_eq!(of(job), shown, "stable");
        assert_ne!(of(&job.replace("secret", "Secret")), shown, "told apart");
    }

    #[test]
    fn activejob_shows_the_wrapped_class() {
        let job = r#"{"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper","wrapped":"ActionMailer::MailDeliveryJob","queue":"mailers","args":[{"job_class":"ActionMailer::MailDeliveryJob","arguments":["UserMailer","confirmation_instructions","deliver_now",{"args":["new-user@example.org"]}]}],"jid":"0123456789abcdef01234567"}"#;
        assert!(
            of(job)
                .starts_with("<job ActionMailer::MailDeliveryJob jid 0123456789abcdef01234567, "),
            "{}",
            of(job)
        );
    }

    #[test]
    fn text_in_class_or_jid_is_not_repeated() {
        let job = r#"{"class":"hello user@example.org","jid":"x y@z","args":[]}"#;
        let shown = of(job);
        assert!(shown.starts_with("<job, "), "{shown}");
        assert!(!shown.contains('@'), "{shown}");
        let unreadable = "secret-arg@example.org, not JSON";
        assert!(of(unreadable).starts_with("<private value, 32 bytes, sha256 "));
        assert!(looks_like_a_job(r#" {"a":1}"#));
        assert!(!looks_like_a_job("[1]") && !looks_like_a_job("{1,2}"));
    }
}
