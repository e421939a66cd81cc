//! SSRF guard: keeps the fetcher away from the machine's own network.
//!
//! A monitoring tool fetches URLs that users type in, so a URL must not be a
//! way to reach the loopback interface, the intranet or a cloud metadata
//! endpoint (169.254.169.254). Unless the operator allows private networks,
//! the guard refuses:
//!
//! - loopback (127.0.0.0/8, ::1), unspecified (0.0.0.0/8, ::),
//! - private networks (10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10),
//! - link-local (169.254/16, fe80::/10), broadcast (255.255.255.255),
//! - shared address space / CGNAT (100.64/10), multicast,
//! - the same IPv4 addresses hidden in IPv6 (`::ffff:10.0.0.1`,
//!   `::10.0.0.1`, NAT64 `64:ff9b::10.0.0.1`).
//!
//! The check happens where the address is known:
//!
//! - **after DNS resolution**, in [`GuardedResolver`], which reqwest calls for
//!   every host name it connects to, redirect hops included; it drops refused
//!   addresses and fails when none is left, so the connection goes only to an
//!   address that was checked (no time-of-check/time-of-use gap);
//! - **before sending**, for URLs whose host is an IP literal (reqwest does not
//!   call the resolver for those): [`check_url`], used by the fetcher for the
//!   first URL and by its redirect policy for every hop.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// The environment variable that lets the operator allow intranet sources.
/// Named in refusal messages; read by the binary, not by this crate.
pub const ALLOW_PRIVATE_ENV: &str = "VIGIE_ALLOW_PRIVATE_NETWORK";

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressClass {
    Loopback,
    Private,
    LinkLocal,
    /// 169.254.169.254 (and its IPv6 forms): the cloud metadata endpoint.
    CloudMetadata,
    Unspecified,
    Broadcast,
    /// 100.64.0.0/10, carrier-grade NAT.
    SharedCgnat,
    Multicast,
    /// 198.18.0.0/15 (benchmarking) and 240.0.0.0/4 (reserved): never public
    /// hosts, sometimes used inside networks.
    Reserved,
}

impl AddressClass {
    /// The phrase used in refusal messages, with its article.
    pub fn describe(self) -> &'static str {
        match self {
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private network address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::CloudMetadata => "the cloud metadata address (link-local)",
            AddressClass::Unspecified => "an unspecified address",
            AddressClass::Broadcast => "a broadcast address",
            AddressClass::SharedCgnat => "a carrier-grade NAT (shared) address",
            AddressClass::Multicast => "a multicast address",
            AddressClass::Reserved => "a reserved (non-public) address",
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A host that resolves to (or is) an address the guard refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedAddress {
    /// The host as written in the URL (a name or an IP literal).
    pub host: String,
    pub addr: IpAddr,
    pub class: AddressClass,
}

impl fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let literal =
            self.host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip == self.addr);
        if literal {
            write!(f, "refused: {} is {}", self.addr, self.class)?;
        } else {
            write!(f, "refused: {} resolves to {}, {}", self.host, self.addr, self.class)?;
        }
        write!(f, " (set {ALLOW_PRIVATE_ENV}=true to allow intranet sources)")
    }
}

impl std::error::Error for RefusedAddress {}

/// Why a URL may not be fetched at all, before any address is looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlRefused {
    #[error("unsupported URL scheme {scheme:?} in {url} (only http and https are fetched)")]
    Scheme { url: String, scheme: String },
    #[error("URL has no host: {url}")]
    NoHost { url: String },
    #[error(transparent)]
    Address(#[from] RefusedAddress),
}

/// Classifies an address; `None` means it is a public address the guard lets through.
pub fn classify(ip: IpAddr) -> Option<AddressClass> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    let [a, b, ..] = ip.octets();
    let [_, _, c, _] = ip.octets();
    // 169.254.169.254 (most clouds), 192.0.0.192 (Oracle Cloud's older one).
    if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(192, 0, 0, 192) {
        Some(AddressClass::CloudMetadata)
    } else if ip.is_loopback() {
        Some(AddressClass::Loopback)
    } else if a == 0 {
        // 0.0.0.0/8 "this network": Linux connects 0.0.0.0 to the local host.
        Some(AddressClass::Unspecified)
    } else if ip.is_private() {
        Some(AddressClass::Private)
    } else if ip.is_link_local() {
        Some(AddressClass::LinkLocal)
    } else if ip.is_broadcast() {
        Some(AddressClass::Broadcast)
    } else if a == 100 && (b & 0xc0) == 64 {
        Some(AddressClass::SharedCgnat)
    } else if ip.is_multicast() {
        Some(AddressClass::Multicast)
    } else if (a == 198 && (b & 0xfe) == 18)
        || a >= 240
        // 192.0.0.0/24 protocol assignments; 192.0.2.0/24, 198.51.100.0/24
        // and 203.0.113.0/24 documentation.
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        // 192.88.99.0/24, the retired 6to4 relays' anycast.
        || (a == 192 && b == 88 && c == 99)
    {
        Some(AddressClass::Reserved)
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some(AddressClass::Loopback)
    } else if ip.is_unspecified() {
        Some(AddressClass::Unspecified)
    } else if (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfec0 {
        // fc00::/7 unique local; fec0::/10 deprecated site-local.
        Some(AddressClass::Private)
    } else if (first & 0xffc0) == 0xfe80 {
        Some(AddressClass::LinkLocal)
    } else if ip.is_multicast() {
        Some(AddressClass::Multicast)
    } else if (first == 0x2001
        && (ip.segments()[1] == 0
            || ip.segments()[1] == 0x0db8
            || ip.segments()[1] == 2 && ip.segments()[2] == 0
            || (ip.segments()[1] & 0xfff0) == 0x0020
            || (ip.segments()[1] & 0xfff0) == 0x0010))
        || (first == 0x3fff && (ip.segments()[1] & 0xf000) == 0)
        || (first == 0x0100 && ip.segments()[1..4].iter().all(|&x| x == 0))
    {
        // 2001::/32 Teredo (tunnels to an IPv4 address through a relay),
        // 2001:db8::/32 and 3fff::/20 documentation, 2001:2::/48
        // benchmarking, 2001:10::/28 and 2001:20::/28 ORCHID, 100::/64
        // discard.
        Some(AddressClass::Reserved)
    } else {
        None
    }
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-translated (`::ffff:0:a.b.c.d`, SIIT), IPv4-compatible (`::a.b.c.d`,
/// deprecated but still routed by some stacks) or the NAT64 well-known prefix
/// (`64:ff9b::a.b.c.d`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let compatible = s[..6].iter().all(|&x| x == 0) && u32::from(tail) > 1; // not :: or ::1
    let translated = s[..4].iter().all(|&x| x == 0) && s[4] == 0xffff && s[5] == 0;
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0);
    if compatible || translated || nat64 {
        return Some(tail);
    }
    // 6to4 (2002:a.b.c.d::/48) and the local-use NAT64 prefix 64:ff9b:1::/48
    // reach the IPv4 address they carry.
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1).then_some(tail)
}

/// Whether this installation lets fetches and webhooks reach private
/// networks: `VIGIE_ALLOW_PRIVATE_NETWORK=true` (intranet feeds; tests on
/// 127.0.0.1). Off by default.
pub fn private_networks_allowed() -> bool {
    std::env::var("VIGIE_ALLOW_PRIVATE_NETWORK")
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
        .unwrap_or(false)
}

/// Checks one URL before it is sent: the scheme must be http or https, and an
/// IP-literal host must not be refused. Host names are left to
/// [`GuardedResolver`]. With `allow_private_networks`, only the scheme is checked.
pub fn check_url(url: &Url, allow_private_networks: bool) -> Result<(), UrlRefused> {
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(UrlRefused::Scheme { url: url.to_string(), scheme: other.to_string() });
        }
    }
    let host = url.host().ok_or_else(|| UrlRefused::NoHost { url: url.to_string() })?;
    if allow_private_networks {
        return Ok(());
    }
    let ip = match host {
        Host::Domain(_) => return Ok(()),
        Host::Ipv4(v4) => IpAddr::V4(v4),
        Host::Ipv6(v6) => IpAddr::V6(v6),
    };
    match classify(ip) {
        Some(class) => {
            Err(RefusedAddress { host: url.host_str().unwrap_or_default().to_string(), addr: ip, class }.into())
        }
        None => Ok(()),
    }
}

/// Keeps the addresses of `host` that the guard lets through; fails with the
/// first refused one when none is left.
pub fn filter_addrs(
    host: &str,
    addrs: impl IntoIterator<Item = SocketAddr>,
) -> Result<Vec<SocketAddr>, RefusedAddress> {
    let mut kept = Vec::new();
    let mut first_refused = None;
    for addr in addrs {
        match classify(addr.ip()) {
            None => kept.push(addr),
            Some(class) => {
                tracing::debug!(host, addr = %addr.ip(), %class, "guard dropped a resolved address");
                first_refused.get_or_insert(RefusedAddress { host: host.to_string(), addr: addr.ip(), class });
            }
        }
    }
    match (kept.is_empty(), first_refused) {
        (true, Some(refused)) => Err(refused),
        _ => Ok(kept),
    }
}

/// A DNS resolver for reqwest that checks every resolved address.
///
/// It resolves with the system resolver (`getaddrinfo`, through tokio) and
/// returns only the addresses [`classify`] lets through, or a
/// [`RefusedAddress`] error when none is left. With `allow_private_networks`
/// it returns every address.
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardedResolver {
    pub allow_private_networks: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_private_networks;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addrs = if allow { resolved } else { filter_addrs(&host, resolved)? };
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn class(s: &str) -> Option<AddressClass> {
        classify(s.parse().unwrap())
    }

    #[test]
    fn refuses_the_ranges_named_in_the_design() {
        use AddressClass::*;
        let cases = [
            ("127.0.0.1", Some(Loopback)),
            ("127.255.3.4", Some(Loopback)),
            ("10.0.0.5", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("192.168.1.1", Some(Private)),
            ("169.254.169.254", Some(CloudMetadata)),
            ("169.254.1.1", Some(LinkLocal)),
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("255.255.255.255", Some(Broadcast)),
            ("100.64.0.1", Some(SharedCgnat)),
            ("100.127.255.254", Some(SharedCgnat)),
            ("224.0.0.1", Some(Multicast)),
            ("::1", Some(Loopback)),
            ("::", Some(Unspecified)),
            ("fc00::1", Some(Private)),
            ("fd12:3456::1", Some(Private)),
            ("fe80::1", Some(LinkLocal)),
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.1.2.3", Some(Private)),
            ("::ffff:169.254.169.254", Some(CloudMetadata)),
            ("::10.1.2.3", Some(Private)),
            ("64:ff9b::192.168.0.1", Some(Private)),
            ("ff02::1", Some(Multicast)),
            ("198.18.0.1", Some(Reserved)),
            ("198.19.255.255", Some(Reserved)),
            ("240.0.0.1", Some(Reserved)),
            ("2002:a00:1::", Some(Private)),
            ("2002:7f00:1::1", Some(Loopback)),
            ("64:ff9b:1::c0a8:1", Some(Private)),
            ("192.0.0.192", Some(CloudMetadata)),
            ("192.0.0.8", Some(Reserved)),
            ("192.0.2.10", Some(Reserved)),
            ("198.51.100.1", Some(Reserved)),
            ("203.0.113.9", Some(Reserved)),
            ("::ffff:0:7f00:1", Some(Loopback)),
            ("::ffff:0:a01:203", Some(Private)),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Some(Reserved)),
            ("2001:db8::1", Some(Reserved)),
            ("100::1", Some(Reserved)),
            ("3fff::1", Some(Reserved)),
            ("2001:2::1", Some(Reserved)),
            ("2001:10::1", Some(Reserved)),
            ("2001:20::1", Some(Reserved)),
            ("192.88.99.1", Some(Reserved)),
        ];
        for (ip, want) in cases {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn lets_public_addresses_through() {
        for ip in [
            "93.184.215.14",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.1.1",
            "2606:4700::6810:85e5",
            "::ffff:93.184.215.14",
            "64:ff9b::93.184.215.14",
            "192.0.1.1",
            "203.0.114.1",
            "2001:4860:4860::8888",
            "2001:3::1",
            "2001:40::1",
            "2001:30::1",
            "3ffe:1::1",
        ] {
            assert_eq!(class(ip), None, "{ip}");
        }
    }

    #[test]
    fn literal_hosts_are_checked_before_sending() {
        let url = |s: &str| Url::parse(s).unwrap();
        let err = check_url(&url("http://127.0.0.1:8080/feed"), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refused: 127.0.0.1 is a loopback address \
             (set VIGIE_ALLOW_PRIVATE_NETWORK=true to allow intranet sources)"
        );
        let err = check_url(&url("http://[::ffff:a9fe:a9fe]/latest/meta-data/"), false).unwrap_err();
        assert!(err.to_string().contains("cloud metadata"), "{err}");
        // The url crate normalizes decimal and octal IPv4 hosts, so these are caught too.
        assert!(check_url(&url("http://2130706433/"), false).is_err());
        assert!(check_url(&url("http://0x7f.1/"), false).is_err());
        assert!(check_url(&url("http://017700000001/"), false).is_err());

        assert!(check_url(&url("http://127.0.0.1/"), true).is_ok());
        assert!(check_url(&url("https://example.com/feed"), false).is_ok());
        assert!(check_url(&url("http://93.184.215.14/"), false).is_ok());
    }

    #[test]
    fn only_http_and_https_are_fetched_even_when_private_is_allowed() {
        for s in ["file:///etc/passwd", "ftp://example.com/feed.xml", "gopher://example.com/"] {
            let err = check_url(&Url::parse(s).unwrap(), true).unwrap_err();
            assert!(matches!(err, UrlRefused::Scheme { .. }), "{s}: {err}");
            assert!(err.to_string().contains("only http and https"), "{err}");
        }
    }

    #[test]
    fn resolved_addresses_are_filtered_and_the_message_names_host_and_address() {
        let sa = |s: &str| SocketAddr::new(s.parse().unwrap(), 0);
        let err = filter_addrs("example.internal", [sa("10.0.0.5")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refused: example.internal resolves to 10.0.0.5, a private network address \
             (set VIGIE_ALLOW_PRIVATE_NETWORK=true to allow intranet sources)"
        );
        // A public address among private ones is kept, the private ones dropped.
        let kept = filter_addrs("mixed.example", [sa("10.0.0.5"), sa("93.184.215.14")]).unwrap();
        assert_eq!(kept, vec![sa("93.184.215.14")]);
        // Nothing resolved is not a refusal (the connector reports it).
        assert_eq!(filter_addrs("nothing.example", []).unwrap(), vec![]);
    }
}
