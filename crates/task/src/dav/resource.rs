//! The CalDAV URL space, one member at a time (docs/calendar.md):
//!
//! | path | what |
//! |---|---|
//! | `/dav/` | the root: tells a client who it is (`current-user-principal`) |
//! | `/dav/{member}/` | the member's principal and calendar home |
//! | `/dav/{member}/schedules/` | the Schedules calendar (VEVENT) |
//! | `/dav/{member}/schedules/{name}.ics` | one schedule: `{name}` is its id, or the name a calendar app gave it |
//! | `/dav/{member}/tasks/` | the Tasks calendar (VTODO, read-only for apps for now) |
//! | `/dav/{member}/tasks/{id}.ics` | one task |
//!
//! A path naming another member is answered as if it did not exist.

use crate::domain::MemberId;

pub const ROOT: &str = "/dav/";

/// A calendar collection of the home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Schedules,
    Tasks,
}

impl Collection {
    pub const ALL: [Collection; 2] = [Collection::Schedules, Collection::Tasks];

    pub fn segment(self) -> &'static str {
        match self {
            Collection::Schedules => "schedules",
            Collection::Tasks => "tasks",
        }
    }

    fn parse(segment: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.segment() == segment)
    }
}

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Root,
    /// The principal and calendar home.
    Home,
    Collection(Collection),
    /// An item by its name (the path segment without `.ics`, as the client sent it).
    Item(Collection, String),
}

impl Resource {
    /// The resource `path` names for `member` (`None`: nothing there — or someone else's).
    pub fn parse(path: &str, member: MemberId) -> Option<Self> {
        let rest = path.strip_prefix("/dav")?;
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        let owner = |p: &str| p.parse::<i64>().ok().filter(|id| *id == member.get());
        match parts.as_slice() {
            [] => Some(Resource::Root),
            [m] => owner(m).map(|_| Resource::Home),
            [m, c] => owner(m).and(Collection::parse(c)).map(Resource::Collection),
            [m, c, item] => {
                owner(m)?;
                let collection = Collection::parse(c)?;
                let name = item.strip_suffix(".ics").filter(|n| !n.is_empty())?;
                Some(Resource::Item(collection, name.to_string()))
            }
            _ => None,
        }
    }

    /// Its canonical href.
    pub fn href(&self, member: MemberId) -> String {
        match self {
            Resource::Root => ROOT.to_string(),
            Resource::Home => home(member),
            Resource::Collection(c) => collection(member, *c),
            Resource::Item(c, name) => item(member, *c, name),
        }
    }
}

pub fn home(member: MemberId) -> String {
    format!("{ROOT}{}/", member.get())
}

pub fn collection(member: MemberId, c: Collection) -> String {
    format!("{}{}/", home(member), c.segment())
}

pub fn item(member: MemberId, c: Collection, name: &str) -> String {
    format!("{}{name}.ics", collection(member, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_resources_of_the_member_only() {
        let m = MemberId(7);
        assert_eq!(Resource::parse("/dav", m), Some(Resource::Root));
        assert_eq!(Resource::parse("/dav/", m), Some(Resource::Root));
        assert_eq!(Resource::parse("/dav/7/", m), Some(Resource::Home));
        assert_eq!(Resource::parse("/dav/7", m), Some(Resource::Home));
        assert_eq!(
            Resource::parse("/dav/7/schedules/", m),
            Some(Resource::Collection(Collection::Schedules))
        );
        assert_eq!(
            Resource::parse("/dav/7/schedules/42.ics", m),
            Some(Resource::Item(Collection::Schedules, "42".into()))
        );
        assert_eq!(
            Resource::parse("/dav/7/schedules/3F2504E0-4F89.ics", m),
            Some(Resource::Item(
                Collection::Schedules,
                "3F2504E0-4F89".into()
            ))
        );
        assert_eq!(Resource::parse("/dav/8/", m), None, "someone else's");
        assert_eq!(Resource::parse("/dav/7/other/", m), None);
        assert_eq!(Resource::parse("/dav/7/schedules/.ics", m), None);
        assert_eq!(Resource::parse("/dav/7/schedules/42", m), None);
        assert_eq!(Resource::parse("/dav/7/schedules/a/b.ics", m), None);
        for r in [
            Resource::Root,
            Resource::Home,
            Resource::Collection(Collection::Schedules),
            Resource::Item(Collection::Schedules, "42".into()),
        ] {
            assert_eq!(Resource::parse(&r.href(m), m), Some(r));
        }
    }
}
