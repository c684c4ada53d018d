//! Text helpers.

/// `s` cut to at most `max` bytes on a character boundary, with `…` appended when anything was cut (error
/// texts stored in bounded columns).
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// An error and its sources on one line, each source once (a wrapper that repeats its source's text adds
/// nothing): what logs and one-line start-up errors show.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chains_name_every_source_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("connect failed")]
        struct Outer(#[source] std::io::Error);
        let inner = std::io::Error::other("invalid peer certificate: UnknownIssuer");
        assert_eq!(
            error_chain(&Outer(inner)),
            "connect failed: invalid peer certificate: UnknownIssuer"
        );
        #[derive(Debug, thiserror::Error)]
        #[error("connect failed: {0}")]
        struct Repeating(#[source] std::io::Error);
        assert_eq!(
            error_chain(&Repeating(std::io::Error::other("refused"))),
            "connect failed: refused"
        );
    }

    #[test]
    fn cuts_on_a_character_boundary() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdef", 3), "abc…");
        // '가' is three bytes: a cut inside it moves back to its start.
        assert_eq!(truncate("가나", 4), "가…");
    }
}
