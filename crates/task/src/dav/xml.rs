//! The XML of WebDAV requests and answers: a small namespace-resolved element tree read with quick-xml (request
//! bodies are small: PROPFIND and REPORT), and a writer for `multistatus` answers.

use std::fmt::Write as _;

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// `DAV:`
pub const DAV: &str = "DAV:";
/// CalDAV (RFC 4791).
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// Calendar Server extensions (`getctag`), which Apple's and other clients still ask for.
pub const CS: &str = "http://calendarserver.org/ns/";
/// Apple's iCal extensions (`calendar-color`).
pub const ICAL: &str = "http://apple.com/ns/ical/";

/// Deepest element nesting accepted in a request body.
const MAX_DEPTH: usize = 32;

/// A qualified name: namespace and local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    pub ns: String,
    pub local: String,
}

impl Name {
    pub fn new(ns: &str, local: &str) -> Self {
        Self {
            ns: ns.to_string(),
            local: local.to_string(),
        }
    }

    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }
}

/// An element of a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: Name,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.name.is(ns, local)
    }

    /// The first child named `ns:local`.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    /// Every child named `ns:local`.
    pub fn all<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request body cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    #[error("the request body is not well-formed XML: {0}")]
    Malformed(String),
    #[error("the request body nests deeper than {MAX_DEPTH} elements")]
    TooDeep,
    #[error("the request body has no root element")]
    Empty,
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

/// Reads a request body into its root element (namespaces resolved; text trimmed).
pub fn parse(body: &str) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_str(body);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(malformed)?;
        let ns = match ns {
            ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.as_ref()).into_owned(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(prefix) => {
                return Err(XmlError::Malformed(format!(
                    "unknown namespace prefix {}",
                    String::from_utf8_lossy(&prefix)
                )));
            }
        };
        match event {
            Event::Start(e) | Event::Empty(e) if stack.len() >= MAX_DEPTH && !e.is_empty() => {
                return Err(XmlError::TooDeep);
            }
            Event::Start(start) => stack.push(element(&ns, &start)?),
            Event::Empty(start) => {
                let done = element(&ns, &start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::End(_) => {
                let mut done = stack.pop().ok_or_else(|| malformed("unbalanced end tag"))?;
                done.text = done.text.trim().to_string();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Text(text) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&text.decode().map_err(malformed)?);
                }
            }
            Event::CData(text) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&text.decode().map_err(malformed)?);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(current) = stack.last_mut() {
                    let name = r.decode().map_err(malformed)?;
                    current.text.push_str(
                        &entity(&name).ok_or_else(|| {
                            XmlError::Malformed(format!("unknown entity &{name};"))
                        })?,
                    );
                }
            }
            Event::Eof => return Err(XmlError::Empty),
            _ => {}
        }
    }
}

fn element(ns: &str, start: &quick_xml::events::BytesStart<'_>) -> Result<Element, XmlError> {
    let local = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    let mut attributes = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(malformed)?;
        let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
        let value = a.unescape_value().map_err(malformed)?.into_owned();
        attributes.push((key, value));
    }
    Ok(Element {
        name: Name::new(ns, &local),
        attributes,
        children: Vec::new(),
        text: String::new(),
    })
}

/// The five predefined entities and character references.
fn entity(name: &str) -> Option<String> {
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let code = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => name.strip_prefix('#')?.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some(c.to_string())
}

/// Escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The prefix written for a namespace in answers.
fn prefix(ns: &str) -> Option<&'static str> {
    match ns {
        DAV => Some("d"),
        CALDAV => Some("c"),
        CS => Some("cs"),
        ICAL => Some("ic"),
        _ => None,
    }
}

/// The opening of a `multistatus` answer, declaring the namespaces answers use.
pub fn multistatus_open() -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:multistatus xmlns:d=\"{DAV}\" xmlns:c=\"{CALDAV}\" \
         xmlns:cs=\"{CS}\" xmlns:ic=\"{ICAL}\">"
    )
}

pub const MULTISTATUS_CLOSE: &str = "</d:multistatus>";

/// `<prefix:local>` for a known namespace, else the name with its own `xmlns`.
pub fn open_tag(name: &Name) -> String {
    match prefix(&name.ns) {
        Some(p) => format!("<{p}:{}>", name.local),
        None => format!("<x:{} xmlns:x=\"{}\">", name.local, escape(&name.ns)),
    }
}

pub fn close_tag(name: &Name) -> String {
    match prefix(&name.ns) {
        Some(p) => format!("</{p}:{}>", name.local),
        None => format!("</x:{}>", name.local),
    }
}

/// `<prefix:local/>`.
pub fn empty_tag(name: &Name) -> String {
    match prefix(&name.ns) {
        Some(p) => format!("<{p}:{}/>", name.local),
        None => format!("<x:{} xmlns:x=\"{}\"/>", name.local, escape(&name.ns)),
    }
}

/// A property's value in an answer: text, or markup already written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Xml(String),
    Empty,
}

/// One `response` of a multistatus: an href with found properties (200) and missing ones (404), or a status.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub href: String,
    pub found: Vec<(Name, Value)>,
    pub missing: Vec<Name>,
    /// A bare status instead of properties (`HTTP/1.1 404 Not Found` for a deleted member of a sync).
    pub status: Option<&'static str>,
}

impl Response {
    pub fn write(&self, out: &mut String) {
        let _ = write!(out, "<d:response><d:href>{}</d:href>", escape(&self.href));
        if let Some(status) = self.status {
            let _ = write!(out, "<d:status>{status}</d:status></d:response>");
            return;
        }
        if !self.found.is_empty() {
            out.push_str("<d:propstat><d:prop>");
            for (name, value) in &self.found {
                match value {
                    Value::Empty => out.push_str(&empty_tag(name)),
                    Value::Text(text) => {
                        let _ =
                            write!(out, "{}{}{}", open_tag(name), escape(text), close_tag(name));
                    }
                    Value::Xml(xml) => {
                        let _ = write!(out, "{}{xml}{}", open_tag(name), close_tag(name));
                    }
                }
            }
            out.push_str("</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>");
        }
        if !self.missing.is_empty() {
            out.push_str("<d:propstat><d:prop>");
            for name in &self.missing {
                out.push_str(&empty_tag(name));
            }
            out.push_str("</d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>");
        }
        out.push_str("</d:response>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_resolve_whatever_the_prefixes() {
        let body = r#"<?xml version="1.0"?>
            <A:propfind xmlns:A="DAV:" xmlns:B="urn:ietf:params:xml:ns:caldav">
              <A:prop><A:getetag/><B:calendar-data/><displayname xmlns="DAV:"/></A:prop>
            </A:propfind>"#;
        let root = parse(body).unwrap();
        assert!(root.is(DAV, "propfind"));
        let prop = root.child(DAV, "prop").unwrap();
        let names: Vec<&str> = prop
            .children
            .iter()
            .map(|c| c.name.local.as_str())
            .collect();
        assert_eq!(names, ["getetag", "calendar-data", "displayname"]);
        assert_eq!(prop.children[1].name.ns, CALDAV);
        assert_eq!(prop.children[2].name.ns, DAV);
    }

    #[test]
    fn text_entities_and_attributes_are_read() {
        let root = parse(
            r#"<d:x xmlns:d="DAV:"><d:href>/dav/1/a&amp;b.ics</d:href><d:t start="20260101T000000Z"/></d:x>"#,
        )
        .unwrap();
        assert_eq!(root.child(DAV, "href").unwrap().text, "/dav/1/a&b.ics");
        assert_eq!(
            root.child(DAV, "t").unwrap().attribute("start"),
            Some("20260101T000000Z")
        );
    }

    #[test]
    fn bad_bodies_are_refused() {
        assert!(matches!(parse(""), Err(XmlError::Empty)));
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("<x:a/>").is_err(), "an unknown prefix");
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert!(matches!(parse(&deep), Err(XmlError::TooDeep)));
    }

    #[test]
    fn answers_escape_and_declare_unknown_namespaces() {
        let mut out = String::new();
        Response {
            href: "/dav/1/a&b.ics".into(),
            found: vec![(Name::new(DAV, "displayname"), Value::Text("<일정>".into()))],
            missing: vec![Name::new("urn:x", "y")],
            status: None,
        }
        .write(&mut out);
        assert!(out.contains("<d:href>/dav/1/a&amp;b.ics</d:href>"));
        assert!(out.contains("<d:displayname>&lt;일정&gt;</d:displayname>"));
        assert!(out.contains("<x:y xmlns:x=\"urn:x\"/>"));
    }
}
