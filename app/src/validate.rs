//! Rules for what users type into the account forms, shared by the server (which enforces them)
//! and the browser (which shows them while the user types).
//!
//! The common-password list is the part of Django's `common-passwords.txt` (Royce Williams' list
//! of 20,000 leaked passwords, BSD-3-Clause) that is long enough to pass the length rule: shorter
//! entries are already refused by length, so shipping them would only grow the WASM bundle.

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted: argon2 hashes anything, but a megabyte "password" is an attack.
pub const MAX_PASSWORD_CHARS: usize = 128;
/// The longest email address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// The canonical form of an email address: trimmed and lower-cased, so that `Ada@Example.com `
/// and `ada@example.com` are one account.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks an email address's syntax (after [`normalize_email`]); the error says what is wrong.
pub fn check_email(email: &str) -> Result<(), String> {
    if email.is_empty() {
        return Err("Enter your email address.".into());
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(format!(
            "An email address has at most {MAX_EMAIL_CHARS} characters."
        ));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("An email address cannot contain spaces.".into());
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err("An email address needs an @, as in name@example.com.".into());
    };
    let labels_ok = domain.split('.').count() >= 2
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local.is_empty() || local.len() > 64 || local.contains('@') || !labels_ok {
        return Err("This does not look like an email address, e.g. name@example.com.".into());
    }
    Ok(())
}

/// Checks a new password against the rules; `email` is the account's (normalised) address.
pub fn check_new_password(password: &str, email: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "Use at least {MIN_PASSWORD_CHARS} characters ({chars} so far)."
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!("Use at most {MAX_PASSWORD_CHARS} characters."));
    }
    let lowered = password.to_lowercase();
    if !email.is_empty()
        && (lowered == email
            || email
                .split('@')
                .next()
                .is_some_and(|local| lowered == local))
    {
        return Err("Your password cannot be your email address.".into());
    }
    if is_common_password(&lowered) {
        return Err("This password is on lists of commonly used passwords; choose another.".into());
    }
    Ok(())
}

fn is_common_password(lowered: &str) -> bool {
    COMMON_PASSWORDS.lines().any(|line| line == lowered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_before_they_are_compared() {
        assert_eq!(normalize_email("  Ada@Example.COM \n"), "ada@example.com");
    }

    #[test]
    fn plausible_addresses_pass_and_others_say_why_not() {
        for good in [
            "ada@example.com",
            "a.b+tag@mail.example.co.uk",
            "x@xn--bcher-kva.ch",
        ] {
            assert_eq!(check_email(good), Ok(()), "{good}");
        }
        for (bad, says) in [
            ("", "Enter"),
            ("ada.example.com", "needs an @"),
            ("ada@example", "look like"),
            ("@example.com", "look like"),
            ("ada@exa mple.com", "spaces"),
            ("ada@-example.com", "look like"),
            ("ada@example..com", "look like"),
        ] {
            let error = check_email(bad).expect_err(bad);
            assert!(error.contains(says), "{bad}: {error}");
        }
        assert!(check_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn passwords_must_be_long_not_the_email_and_not_common() {
        let email = "ada@example.com";
        assert!(check_new_password("correct horse battery", email).is_ok());
        assert!(check_new_password("short", email)
            .unwrap_err()
            .contains("at least 10"));
        assert!(check_new_password(&"x".repeat(129), email).is_err());
        assert!(check_new_password("ADA@example.com", email)
            .unwrap_err()
            .contains("email"));
        for common in ["1234567890", "Basketball", "qwertyuiop", "Password12"] {
            assert!(
                check_new_password(common, email)
                    .unwrap_err()
                    .contains("commonly used"),
                "{common}"
            );
        }
    }

    #[test]
    fn the_bundled_list_is_lower_case_and_long_enough_to_matter() {
        let entries: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert!(entries.len() > 1500);
        assert!(entries
            .iter()
            .all(|p| p.chars().count() >= MIN_PASSWORD_CHARS && *p == p.to_lowercase()));
    }
}
