//! Title and description — shared by tasks and schedules: a title is required and not blank, a description may
//! be empty; both have a bounded length. The bounds are Pinit's (ADR 0006, "Longer titles, optional
//! descriptions"): 100 and 2,000, where the reference allowed 20 and required 1 to 100 (its client still checks its
//! own 20, so it keeps working).
//!
//! Lengths are counted in **UTF-16 code units**, as the reference's Java `String.length()` does
//! (docs/contract/task.md#text-length): an emoji outside the BMP counts 2. "Blank" is Java's `String.isBlank()`: every code
//! point satisfies `Character.isWhitespace` (see [`is_java_whitespace`]). The value is kept exactly
//! as given (no trimming), like the reference.
//!
//! Unlike the reference, control characters (C0, DEL, C1) and the invisible bidirectional controls
//! (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069, which can make a title read backwards) are refused;
//! a description may still hold line breaks and tabs.

use std::fmt;

use super::error::ValidationError;

/// Most UTF-16 code units in a title.
pub const TITLE_MAX_UTF16: usize = 100;
/// Most UTF-16 code units in a description.
pub const DESCRIPTION_MAX_UTF16: usize = 2000;

/// Length as Java's `String.length()`.
pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Java's `Character.isWhitespace(int)`: Unicode space, line and paragraph separators except the
/// no-break spaces (U+00A0, U+2007, U+202F), plus U+0009–U+000D and U+001C–U+001F.
pub fn is_java_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{09}'..='\u{0D}'
            | '\u{1C}'..='\u{1F}'
            | ' '
            | '\u{1680}'
            | '\u{2000}'..='\u{2006}'
            | '\u{2008}'..='\u{200A}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{205F}'
            | '\u{3000}'
    )
}

/// Java's `String.isBlank()`: empty or only [`is_java_whitespace`] characters.
pub fn is_blank(s: &str) -> bool {
    s.chars().all(is_java_whitespace)
}

fn bounded(s: &str, max: usize) -> bool {
    !is_blank(s) && utf16_len(s) <= max
}

/// A character no title or description may hold: a control character (C0, DEL, C1) or an invisible
/// bidirectional control. `multiline` allows `\t`, `\n` and `\r`.
pub fn is_forbidden(c: char, multiline: bool) -> bool {
    match c {
        '\t' | '\n' | '\r' => !multiline,
        '\u{061C}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' => true,
        c => c.is_control(),
    }
}

fn clean(s: &str, multiline: bool) -> bool {
    !s.chars().any(|c| is_forbidden(c, multiline))
}

/// A task or schedule title: not blank, at most [`TITLE_MAX_UTF16`] UTF-16 code units.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Title(String);

impl Title {
    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        if !bounded(&value, TITLE_MAX_UTF16) {
            Err(ValidationError::Title)
        } else if !clean(&value, false) {
            Err(ValidationError::TitleCharacters)
        } else {
            Ok(Self(value))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A task or schedule description: possibly empty, at most [`DESCRIPTION_MAX_UTF16`] UTF-16 code units.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Description(String);

impl Description {
    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        if utf16_len(&value) > DESCRIPTION_MAX_UTF16 {
            Err(ValidationError::Description)
        } else if !clean(&value, true) {
            Err(ValidationError::DescriptionCharacters)
        } else {
            Ok(Self(value))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Title {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::msg;

    #[test]
    fn title_of_one_and_twenty_units_is_accepted() {
        assert_eq!(Title::parse("a").unwrap().as_str(), "a");
        assert!(Title::parse("a".repeat(20)).is_ok());
        assert!(
            Title::parse("가".repeat(20)).is_ok(),
            "Hangul is one unit per syllable"
        );
    }

    #[test]
    fn a_title_over_a_hundred_units_is_refused() {
        // The reference's 20 is no longer the limit (its client checks its own).
        assert!(Title::parse("a".repeat(21)).is_ok());
        assert!(Title::parse("a".repeat(100)).is_ok());
        let err = Title::parse("a".repeat(101)).unwrap_err();
        assert_eq!(err, ValidationError::Title);
        assert_eq!(err.to_string(), msg::TITLE_LENGTH);
        assert_eq!(
            err.to_string(),
            "제목의 길이는 1자 이상 100자 이하여야 합니다."
        );
        assert_eq!(err.class().status(), 400);
        assert_eq!(err.field(), "title");
    }

    #[test]
    fn title_emoji_count_two_units_each() {
        // 50 emoji = 100 UTF-16 units (50 chars, 200 bytes): accepted.
        let fifty = "😀".repeat(50);
        assert_eq!(utf16_len(&fifty), 100);
        assert!(Title::parse(fifty.clone()).is_ok());
        // 50 emoji + 1 ASCII = 101 units, only 51 chars: refused.
        assert_eq!(
            Title::parse(format!("{fifty}a")),
            Err(ValidationError::Title)
        );
        // 51 emoji = 102 units.
        assert_eq!(Title::parse("😀".repeat(51)), Err(ValidationError::Title));
        // A BMP symbol counts one.
        assert!(Title::parse(format!("{}{}", "☺".repeat(99), "a")).is_ok());
    }

    #[test]
    fn title_empty_or_blank_is_refused() {
        for blank in ["", " ", "   ", "\t\n", "\u{3000}", "\u{2003}", "\u{1F}"] {
            assert_eq!(
                Title::parse(blank),
                Err(ValidationError::Title),
                "{blank:?} is blank in Java"
            );
        }
    }

    #[test]
    fn java_blank_excludes_no_break_spaces() {
        // Character.isWhitespace is false for U+00A0, U+2007, U+202F, so these are not blank.
        for not_blank in ["\u{A0}", "\u{2007}", "\u{202F}", "\u{85}"] {
            assert!(!is_blank(not_blank), "{not_blank:?}");
        }
        for not_blank in ["\u{A0}", "\u{2007}", "\u{202F}"] {
            assert!(Title::parse(not_blank).is_ok());
        }
        // U+0085 is not blank either, but a control character.
        assert_eq!(
            Title::parse("\u{85}"),
            Err(ValidationError::TitleCharacters)
        );
    }

    #[test]
    fn control_and_bidirectional_characters_are_refused() {
        for bad in [
            "a\u{0}b",
            "a\u{1B}[31m",
            "abc\u{202E}fed",
            "a\u{7F}",
            "a\u{85}b",
            "a\u{2066}b",
            "a\nb",
            "a\tb",
        ] {
            assert_eq!(
                Title::parse(bad),
                Err(ValidationError::TitleCharacters),
                "{bad:?}"
            );
        }
        assert_eq!(
            ValidationError::TitleCharacters.to_string(),
            msg::TITLE_CHARACTERS
        );
        assert_eq!(ValidationError::TitleCharacters.field(), "title");
        for bad in ["a\u{0}b", "a\u{1B}[31m", "abc\u{202E}fed"] {
            assert_eq!(
                Description::parse(bad),
                Err(ValidationError::DescriptionCharacters),
                "{bad:?}"
            );
        }
        assert!(Description::parse("첫 줄\n둘째 줄\r\n\t끝").is_ok());
        // Joiners and other format characters used in real text stay allowed.
        assert!(Title::parse("👩\u{200D}💻 코딩").is_ok());
        // Blank wins over control: a title of only U+001F is blank (the reference's message).
        assert_eq!(Title::parse("\u{1F}"), Err(ValidationError::Title));
    }

    #[test]
    fn title_keeps_surrounding_spaces() {
        assert_eq!(Title::parse(" a ").unwrap().as_str(), " a ");
    }

    #[test]
    fn description_boundaries() {
        assert!(Description::parse("d").is_ok());
        assert!(Description::parse("d".repeat(2000)).is_ok());
        assert!(Description::parse("😀".repeat(1000)).is_ok());
        let err = Description::parse("d".repeat(2001)).unwrap_err();
        assert_eq!(err, ValidationError::Description);
        assert_eq!(err.to_string(), "설명의 길이는 2000자 이하여야 합니다.");
        assert_eq!(
            Description::parse(format!("{}a", "😀".repeat(1000))),
            Err(ValidationError::Description)
        );
        // Optional: empty or blank is a description too.
        assert!(Description::parse("").is_ok());
        assert!(Description::parse("  ").is_ok());
        assert_eq!(err.field(), "description");
    }
}
