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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_a_character_boundary() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdef", 3), "abc…");
        // '가' is three bytes: a cut inside it moves back to its start.
        assert_eq!(truncate("가나", 4), "가…");
    }
}
