//! Content lines (RFC 5545, 3.1): components as a tree of properties with parameters, written with CRLF and
//! folding at 75 octets, read back tolerantly (LF or CRLF, any case, folded with a space or a tab).
//!
//! A [`Property`] keeps its value *as written on the line* (still escaped): a property Pinit does not
//! understand is carried through a read and a write unchanged, which CalDAV needs to return what a client
//! stored. [`Property::text`] and [`Property::texts`] unescape TEXT values; [`escape`] is the writer's half.

use std::fmt::Write as _;

/// The longest line, in octets without its CRLF (RFC 5545, 3.1).
pub const LINE_OCTETS: usize = 75;

/// Why a calendar could not be read; each names the (first physical) line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line {line}: {what}")]
    Malformed { line: usize, what: &'static str },
    #[error("line {line}: END:{found} does not close BEGIN:{open}")]
    Mismatched {
        line: usize,
        open: String,
        found: String,
    },
    #[error("line {line}: END:{found} without a BEGIN")]
    Unopened { line: usize, found: String },
    #[error("line {line}: BEGIN:{open} is never closed")]
    Unclosed { line: usize, open: String },
    #[error("line {line}: {name} is outside any component")]
    Outside { line: usize, name: String },
    #[error("no component (expected BEGIN:VCALENDAR)")]
    Empty,
    #[error("line {line}: a second top-level component (one calendar expected)")]
    Several { line: usize },
}

/// A property parameter: its name (upper case) and its values (`MEMBER="a","b"` has two), unquoted and with
/// RFC 6868's `^n`, `^'` and `^^` decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub values: Vec<String>,
}

/// A property: name (upper case), parameters in order, and the value as written on the line (escaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub name: String,
    pub params: Vec<Param>,
    pub value: String,
}

/// A component (`VCALENDAR`, `VEVENT`, `VTIMEZONE`, `STANDARD`, `VALARM`, …): its properties and the components
/// inside it, both in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    pub properties: Vec<Property>,
    pub components: Vec<Component>,
}

// ---------------------------------------------------------------------------------------------
// TEXT escaping
// ---------------------------------------------------------------------------------------------

/// A TEXT value as written: `\` `;` `,` escaped, every line break (CRLF, LF, CR) as `\n`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            c => out.push(c),
        }
    }
    out
}

/// A TEXT value as meant: `\\`, `\;`, `\,`, `\n` and `\N` decoded. Tolerant: another escaped character stands for
/// itself (`\:` is `:`), and a lone trailing backslash is kept.
pub fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// A list of TEXT values (`CATEGORIES:a,b\,c`): split at unescaped commas, each unescaped.
pub fn unescape_list(value: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push('\\');
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ',' => items.push(unescape(&std::mem::take(&mut current))),
            c => current.push(c),
        }
    }
    items.push(unescape(&current));
    items
}

/// A parameter value as written: RFC 6868 caret encoding (`^` `"` and line breaks), and double quotes around
/// it when it holds `:` `;` or `,`.
fn param_value(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '^' => encoded.push_str("^^"),
            '"' => encoded.push_str("^'"),
            '\n' => encoded.push_str("^n"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                encoded.push_str("^n");
            }
            c if c.is_control() && c != '\t' => {}
            c => encoded.push(c),
        }
    }
    if encoded.contains([':', ';', ',']) {
        format!("\"{encoded}\"")
    } else {
        encoded
    }
}

/// RFC 6868 decoding: `^n` newline, `^'` double quote, `^^` caret; any other `^` stays.
fn decode_caret(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '^' {
            match chars.peek() {
                Some('n' | 'N') => {
                    chars.next();
                    out.push('\n');
                    continue;
                }
                Some('\'') => {
                    chars.next();
                    out.push('"');
                    continue;
                }
                Some('^') => {
                    chars.next();
                    out.push('^');
                    continue;
                }
                _ => {}
            }
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Folding
// ---------------------------------------------------------------------------------------------

/// Appends one logical line to `out`, folded so that no physical line exceeds [`LINE_OCTETS`] octets (a
/// continuation's leading space counts), never inside a UTF-8 character, each ended by CRLF.
pub fn fold_into(out: &mut String, line: &str) {
    let mut rest = line;
    let mut limit = LINE_OCTETS;
    loop {
        if rest.len() <= limit {
            out.push_str(rest);
            out.push_str("\r\n");
            return;
        }
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        limit = LINE_OCTETS - 1;
    }
}

/// The logical lines of `text` with the physical line each starts on (1-based): CRLF or bare LF line ends, a
/// line starting with a space or a tab continues the one before (that one character removed), blank lines are
/// skipped.
pub fn unfold(text: &str) -> Vec<(usize, String)> {
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(continued) = raw.strip_prefix([' ', '\t'])
            && let Some((_, last)) = lines.last_mut()
        {
            last.push_str(continued);
            continue;
        }
        if raw.trim().is_empty() {
            continue;
        }
        lines.push((i + 1, raw.to_owned()));
    }
    lines
}

// ---------------------------------------------------------------------------------------------
// Properties and components
// ---------------------------------------------------------------------------------------------

impl Property {
    /// A property with a value already in its written form (a DATE-TIME, a number, an RRULE, a raw value).
    pub fn raw(name: &str, value: impl Into<String>) -> Self {
        Self {
            name: name.to_ascii_uppercase(),
            params: Vec::new(),
            value: value.into(),
        }
    }

    /// A TEXT property (escaped here).
    pub fn text_value(name: &str, text: &str) -> Self {
        Self::raw(name, escape(text))
    }

    /// A list of TEXT values (`CATEGORIES`), each escaped, joined by commas.
    pub fn text_list(name: &str, texts: &[&str]) -> Self {
        let joined = texts
            .iter()
            .map(|t| escape(t))
            .collect::<Vec<_>>()
            .join(",");
        Self::raw(name, joined)
    }

    /// Adds a parameter with one value.
    pub fn with_param(mut self, name: &str, value: &str) -> Self {
        self.params.push(Param {
            name: name.to_ascii_uppercase(),
            values: vec![value.to_owned()],
        });
        self
    }

    /// The first value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .and_then(|p| p.values.first())
            .map(String::as_str)
    }

    /// The value as TEXT (unescaped).
    pub fn text(&self) -> String {
        unescape(&self.value)
    }

    /// The value as a list of TEXT values (split at unescaped commas).
    pub fn texts(&self) -> Vec<String> {
        unescape_list(&self.value)
    }

    /// The content line, unfolded: `NAME;PARAM=value:value`.
    pub fn line(&self) -> String {
        let mut line = self.name.clone();
        for param in &self.params {
            line.push(';');
            line.push_str(&param.name);
            line.push('=');
            let values: Vec<String> = param.values.iter().map(|v| param_value(v)).collect();
            line.push_str(&values.join(","));
        }
        line.push(':');
        line.push_str(&self.value);
        line
    }

    /// Reads one unfolded content line (`line_no` names it in errors).
    pub fn parse(line: &str, line_no: usize) -> Result<Self, ParseError> {
        let malformed = |what| ParseError::Malformed {
            line: line_no,
            what,
        };
        let name_end = line
            .find([';', ':'])
            .ok_or(malformed("a content line needs NAME:value"))?;
        let name = &line[..name_end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(malformed(
                "a property name is letters, digits and dashes only",
            ));
        }
        let mut params = Vec::new();
        let mut rest = &line[name_end..];
        while let Some(after) = rest.strip_prefix(';') {
            let eq = after
                .find('=')
                .ok_or(malformed("a parameter needs NAME=value"))?;
            let param_name = &after[..eq];
            if param_name.is_empty()
                || !param_name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(malformed(
                    "a parameter name is letters, digits and dashes only",
                ));
            }
            let mut values = Vec::new();
            let mut cursor = &after[eq + 1..];
            loop {
                let (value, next) = if let Some(quoted) = cursor.strip_prefix('"') {
                    let close = quoted
                        .find('"')
                        .ok_or(malformed("a quoted parameter value is not closed"))?;
                    (&quoted[..close], &quoted[close + 1..])
                } else {
                    let end = cursor
                        .find([',', ';', ':'])
                        .ok_or(malformed("a content line needs `:` before its value"))?;
                    (&cursor[..end], &cursor[end..])
                };
                values.push(decode_caret(value));
                match next.strip_prefix(',') {
                    Some(more) => cursor = more,
                    None => {
                        cursor = next;
                        break;
                    }
                }
            }
            params.push(Param {
                name: param_name.to_ascii_uppercase(),
                values,
            });
            rest = cursor;
        }
        let value = rest
            .strip_prefix(':')
            .ok_or(malformed("a content line needs `:` before its value"))?;
        Ok(Self {
            name: name.to_ascii_uppercase(),
            params,
            value: value.to_owned(),
        })
    }
}

impl Component {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_ascii_uppercase(),
            properties: Vec::new(),
            components: Vec::new(),
        }
    }

    /// Adds a property (builder style).
    pub fn with(mut self, property: Property) -> Self {
        self.properties.push(property);
        self
    }

    pub fn push(&mut self, property: Property) {
        self.properties.push(property);
    }

    /// Adds a component inside this one.
    pub fn push_component(&mut self, component: Component) {
        self.components.push(component);
    }

    /// The first property named `name` (case-insensitive).
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Every property named `name`, in order.
    pub fn properties_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Property> + 'a {
        self.properties
            .iter()
            .filter(move |p| p.name.eq_ignore_ascii_case(name))
    }

    /// Every component directly inside named `name`, in order.
    pub fn components_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Component> + 'a {
        self.components
            .iter()
            .filter(move |c| c.name.eq_ignore_ascii_case(name))
    }

    /// The component as iCalendar text: CRLF line ends, folded at 75 octets.
    pub fn to_ical(&self) -> String {
        let mut out = String::new();
        self.write_into(&mut out);
        out
    }

    /// Appends the component's text to `out`.
    pub fn write_into(&self, out: &mut String) {
        let _ = write!(out, "BEGIN:{}\r\n", self.name);
        for property in &self.properties {
            fold_into(out, &property.line());
        }
        for component in &self.components {
            component.write_into(out);
        }
        let _ = write!(out, "END:{}\r\n", self.name);
    }

    /// Reads exactly one top-level component (a calendar object: `BEGIN:VCALENDAR` … `END:VCALENDAR`).
    pub fn parse(text: &str) -> Result<Component, ParseError> {
        let mut all = parse_all(text)?;
        match all.len() {
            0 => Err(ParseError::Empty),
            1 => Ok(all.remove(0)),
            _ => Err(ParseError::Several {
                line: all.get(1).map_or(0, |_| second_begin_line(text)),
            }),
        }
    }
}

/// The line of the second top-level BEGIN (only for the error message).
fn second_begin_line(text: &str) -> usize {
    let mut depth = 0usize;
    for (line_no, line) in unfold(text) {
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("BEGIN:") {
            if depth == 0 && line_no > 1 {
                return line_no;
            }
            depth += 1;
        } else if upper.starts_with("END:") {
            depth = depth.saturating_sub(1);
        }
    }
    0
}

/// Reads every top-level component of `text` (several calendars one after another are allowed).
pub fn parse_all(text: &str) -> Result<Vec<Component>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut stack: Vec<(usize, Component)> = Vec::new();
    let mut done = Vec::new();
    for (line_no, line) in unfold(text) {
        let property = Property::parse(&line, line_no)?;
        match property.name.as_str() {
            "BEGIN" => {
                let name = property.value.trim().to_ascii_uppercase();
                if name.is_empty() {
                    return Err(ParseError::Malformed {
                        line: line_no,
                        what: "BEGIN needs a component name",
                    });
                }
                stack.push((line_no, Component::new(&name)));
            }
            "END" => {
                let found = property.value.trim().to_ascii_uppercase();
                let Some((_, component)) = stack.pop() else {
                    return Err(ParseError::Unopened {
                        line: line_no,
                        found,
                    });
                };
                if component.name != found {
                    return Err(ParseError::Mismatched {
                        line: line_no,
                        open: component.name,
                        found,
                    });
                }
                match stack.last_mut() {
                    Some((_, parent)) => parent.components.push(component),
                    None => done.push(component),
                }
            }
            _ => match stack.last_mut() {
                Some((_, current)) => current.properties.push(property),
                None => {
                    return Err(ParseError::Outside {
                        line: line_no,
                        name: property.name,
                    });
                }
            },
        }
    }
    if let Some((line, component)) = stack.pop() {
        return Err(ParseError::Unclosed {
            line,
            open: component.name,
        });
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn escapes_text_and_reads_it_back() {
        let text = "a;b,c\\d\ne\r\nf";
        assert_eq!(escape(text), "a\\;b\\,c\\\\d\\ne\\nf");
        assert_eq!(unescape(&escape(text)), "a;b,c\\d\ne\nf");
        assert_eq!(unescape("x\\Ny\\:z\\"), "x\ny:z\\");
        assert_eq!(unescape_list("a\\,b,c,,d\\\\"), ["a,b", "c", "", "d\\"]);
    }

    #[test]
    fn folds_at_75_octets_without_splitting_characters() {
        let mut out = String::new();
        let line = format!("SUMMARY:{}", "가".repeat(60));
        fold_into(&mut out, &line);
        for physical in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(physical.len() <= LINE_OCTETS, "{physical:?}");
        }
        let unfolded = unfold(&out);
        assert_eq!(unfolded, [(1, line)]);
    }

    #[test]
    fn parameters_are_quoted_and_caret_encoded() {
        let p = Property::raw("ATTENDEE", "mailto:a@example.com")
            .with_param("CN", "Doe, Jane \"JD\"")
            .with_param("TZID", "Europe/Berlin");
        let line = p.line();
        assert_eq!(
            line,
            "ATTENDEE;CN=\"Doe, Jane ^'JD^'\";TZID=Europe/Berlin:mailto:a@example.com"
        );
        let back = Property::parse(&line, 1).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn reads_multi_valued_and_quoted_parameters() {
        let p = Property::parse(
            "attendee;member=\"mailto:a@x\",\"mailto:b@x\";cn=A:mailto:c@x",
            3,
        )
        .unwrap();
        assert_eq!(p.name, "ATTENDEE");
        assert_eq!(p.params[0].values, ["mailto:a@x", "mailto:b@x"]);
        assert_eq!(p.param("CN"), Some("A"));
        assert_eq!(p.value, "mailto:c@x");
    }

    #[test]
    fn errors_name_the_line() {
        let e =
            Component::parse("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n")
                .unwrap_err();
        assert_eq!(
            e,
            ParseError::Mismatched {
                line: 4,
                open: "VEVENT".into(),
                found: "VCALENDAR".into()
            }
        );
        let e = Component::parse("BEGIN:VCALENDAR\nX-BAD\nEND:VCALENDAR\n").unwrap_err();
        assert!(e.to_string().starts_with("line 2:"), "{e}");
        let e = Component::parse("BEGIN:VCALENDAR\nSUMMARY;CN=\"x:y\n").unwrap_err();
        assert!(matches!(e, ParseError::Malformed { line: 2, .. }), "{e}");
        assert_eq!(Component::parse("\r\n").unwrap_err(), ParseError::Empty);
        let e =
            Component::parse("BEGIN:VCALENDAR\nEND:VCALENDAR\nBEGIN:VCALENDAR\nEND:VCALENDAR\n")
                .unwrap_err();
        assert_eq!(e, ParseError::Several { line: 3 });
        let e = Component::parse("BEGIN:VCALENDAR\nBEGIN:VEVENT\n").unwrap_err();
        assert_eq!(
            e,
            ParseError::Unclosed {
                line: 2,
                open: "VEVENT".into()
            }
        );
    }

    #[test]
    fn a_tree_is_read_tolerantly_and_unknown_properties_are_kept_verbatim() {
        let text = "\u{feff}begin:vcalendar\nVERSION:2.0\nBEGIN:VEVENT\nUID:1\nX-ODD;X-P=\"a;b\":raw\\,value\n\
                    SUMMARY:long\n\ttext\nBEGIN:VALARM\nACTION:DISPLAY\nEND:VALARM\nEND:VEVENT\nEND:VCALENDAR";
        let calendar = Component::parse(text).unwrap();
        assert_eq!(calendar.name, "VCALENDAR");
        let event = calendar.components_named("VEVENT").next().unwrap();
        assert_eq!(event.property("summary").unwrap().text(), "longtext");
        let odd = event.property("X-ODD").unwrap();
        assert_eq!(odd.value, "raw\\,value");
        assert_eq!(event.components[0].name, "VALARM");
        let again = Component::parse(&calendar.to_ical()).unwrap();
        assert_eq!(again, calendar);
    }

    proptest! {
        #[test]
        fn fold_then_unfold_is_the_line(line in "[A-Z]{1,8}:\\PC{0,300}") {
            let mut out = String::new();
            fold_into(&mut out, &line);
            for physical in out.split("\r\n") {
                prop_assert!(physical.len() <= LINE_OCTETS);
            }
            prop_assert!(out.ends_with("\r\n"));
            prop_assert_eq!(unfold(&out), vec![(1, line)]);
        }

        #[test]
        fn unescape_undoes_escape(text in "\\PC{0,200}") {
            let text = text.replace("\r\n", "\n").replace('\r', "\n");
            prop_assert_eq!(unescape(&escape(&text)), text);
        }

        #[test]
        fn a_text_list_comes_back_item_by_item(items in prop::collection::vec("[^\\r]{0,20}", 1..5)) {
            let refs: Vec<&str> = items.iter().map(String::as_str).collect();
            let p = Property::text_list("CATEGORIES", &refs);
            prop_assert_eq!(p.texts(), items);
        }

        #[test]
        fn a_written_property_reads_back(
            name in "X-[A-Z]{1,6}",
            param in "[^\\r\\u{0}-\\u{8}\\u{b}-\\u{1f}\\u{7f}-\\u{9f}]{0,30}",
            text in "\\PC{0,120}",
        ) {
            let text = text.replace("\r\n", "\n").replace('\r', "\n");
            let p = Property::text_value(&name, &text).with_param("X-P", &param);
            let mut out = String::new();
            fold_into(&mut out, &p.line());
            let lines = unfold(&out);
            prop_assert_eq!(lines.len(), 1);
            let back = Property::parse(&lines[0].1, 1).unwrap();
            prop_assert_eq!(back.param("X-P"), Some(param.as_str()));
            prop_assert_eq!(back.text(), text);
        }
    }
}
