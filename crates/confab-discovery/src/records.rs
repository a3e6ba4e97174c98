//! What a meeting's mDNS service says: its TXT record (`v`, `s` salt, `h` code hash, `t` title
//! when listed) and how a browser reads it back.

use std::collections::HashMap;
use std::net::SocketAddr;

use confab_conference::OpenMeeting;
use confab_conference::code::discovery_hash;
pub use confab_conference::code::random_hex;
use confab_ipc::MeetingCode;
use mdns_sd::{ResolvedService, ServiceInfo};

/// The DNS-SD service type of Confab meetings.
pub const SERVICE_TYPE: &str = "_confab._tcp.local.";
/// The TXT record format.
const VERSION: &str = "1";
/// Titles are cut so the TXT record stays small (one string holds at most 255 bytes).
const MAX_TITLE_BYTES: usize = 100;

/// One meeting as advertised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement {
    code: MeetingCode,
    salt: String,
    hash: String,
    title: Option<String>,
}

impl Advertisement {
    /// A fresh salt and the meeting's hash under it (slow: see [`discovery_hash`]).
    pub fn new(meeting: &OpenMeeting) -> Self {
        let salt = random_hex(16);
        let hash = discovery_hash(&meeting.code, salt.as_bytes());
        Self {
            code: meeting.code.clone(),
            salt,
            hash,
            title: meeting.listed.then(|| cut(&meeting.title, MAX_TITLE_BYTES)),
        }
    }

    pub fn is_for(&self, meeting: &OpenMeeting) -> bool {
        self.code == meeting.code
    }

    /// The instance name: part of the hash, so it reveals nothing either.
    fn instance(&self) -> String {
        format!("confab-{}", &self.hash[..12])
    }

    pub fn fullname(&self) -> String {
        format!("{}.{SERVICE_TYPE}", self.instance())
    }

    pub fn properties(&self) -> HashMap<String, String> {
        let mut properties = HashMap::from([
            ("v".to_owned(), VERSION.to_owned()),
            ("s".to_owned(), self.salt.clone()),
            ("h".to_owned(), self.hash.clone()),
        ]);
        // A listed meeting is open to the LAN by its host's choice: its title and its code
        // (the waiting room still decides who gets in).
        if let Some(title) = &self.title {
            properties.insert("t".to_owned(), title.clone());
            properties.insert("c".to_owned(), self.code.to_string());
        }
        properties
    }

    pub fn service(&self, host_name: &str, port: u16) -> Result<ServiceInfo, mdns_sd::Error> {
        Ok(ServiceInfo::new(
            SERVICE_TYPE,
            &self.instance(),
            host_name,
            "",
            port,
            self.properties(),
        )?
        .enable_addr_auto())
    }
}

fn cut(text: &str, max_bytes: usize) -> String {
    let mut cut = String::new();
    for c in text.chars() {
        if cut.len() + c.len_utf8() > max_bytes {
            break;
        }
        cut.push(c);
    }
    cut
}

/// A meeting service heard on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    properties: HashMap<String, String>,
    addresses: Vec<SocketAddr>,
}

impl Found {
    pub fn from_service(service: &ResolvedService) -> Option<Self> {
        let properties: HashMap<String, String> = service
            .get_properties()
            .iter()
            .map(|property| (property.key().to_owned(), property.val_str().to_owned()))
            .collect();
        let mut addresses: Vec<SocketAddr> = service
            .get_addresses()
            .iter()
            .map(|ip| SocketAddr::new(ip.to_ip_addr(), service.get_port()))
            .collect();
        addresses.sort_by_key(|address| (address.is_ipv6(), *address));
        Self::new(properties, addresses)
    }

    pub fn new(properties: HashMap<String, String>, addresses: Vec<SocketAddr>) -> Option<Self> {
        (properties.get("v").map(String::as_str) == Some(VERSION)).then_some(Self {
            properties,
            addresses,
        })
    }

    /// Whether this is the meeting with `code`.
    pub fn matches(&self, code: &MeetingCode) -> bool {
        match (self.properties.get("s"), self.properties.get("h")) {
            (Some(salt), Some(hash)) => discovery_hash(code, salt.as_bytes()) == *hash,
            _ => false,
        }
    }

    pub fn title(&self) -> Option<&str> {
        self.properties.get("t").map(String::as_str)
    }

    /// A listed meeting's code (checked against its hash: an advertisement cannot name
    /// another meeting's code).
    pub fn code(&self) -> Option<MeetingCode> {
        let code = MeetingCode::parse(self.properties.get("c")?).ok()?;
        self.matches(&code).then_some(code)
    }

    /// The host's address (IPv4 first).
    pub fn address(&self) -> Option<SocketAddr> {
        self.addresses.first().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meeting(code: &str, listed: bool) -> OpenMeeting {
        OpenMeeting {
            code: MeetingCode::parse(code).expect("code"),
            title: "Friday demo".into(),
            listed,
        }
    }

    fn heard(ad: &Advertisement) -> Found {
        Found::new(
            ad.properties(),
            vec![SocketAddr::from(([10, 77, 0, 1], 7880))],
        )
        .expect("v1")
    }

    #[test]
    fn an_advertisement_is_found_by_its_code_and_carries_no_code() {
        let ad = Advertisement::new(&meeting("abc-defg-hij", false));
        let properties = ad.properties();
        assert!(properties.values().all(|value| !value.contains("abc")));
        assert!(ad.fullname().starts_with("confab-"));
        let found = heard(&ad);
        assert!(found.matches(&MeetingCode::parse("ABCDEFGHIJ").expect("code")));
        assert!(!found.matches(&MeetingCode::parse("abc-defg-hik").expect("code")));
        assert_eq!(found.title(), None, "unlisted meetings have no title");
        assert_eq!(found.code(), None, "nor a code");
        assert_eq!(
            found.address(),
            Some(SocketAddr::from(([10, 77, 0, 1], 7880)))
        );
    }

    #[test]
    fn listed_meetings_carry_their_title_and_code() {
        let ad = Advertisement::new(&meeting("abc-defg-hij", true));
        let found = heard(&ad);
        assert_eq!(found.title(), Some("Friday demo"));
        assert_eq!(
            found.code().map(|c| c.to_string()).as_deref(),
            Some("abc-defg-hij")
        );
        let mut forged = ad.properties();
        forged.insert("c".into(), "xyz-wxyz-xyz".into());
        let forged = Found::new(forged, Vec::new()).expect("v1");
        assert_eq!(
            forged.code(),
            None,
            "a code that does not match the hash is ignored"
        );
    }

    #[test]
    fn other_services_and_versions_are_ignored() {
        assert_eq!(Found::new(HashMap::new(), Vec::new()), None);
        let future = HashMap::from([("v".to_owned(), "2".to_owned())]);
        assert_eq!(Found::new(future, Vec::new()), None);
    }

    #[test]
    fn long_titles_are_cut_on_a_character() {
        assert_eq!(cut("ééé", 5), "éé");
    }
}
