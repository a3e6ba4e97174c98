//! A private test network: network namespaces joined by a bridge, so libwebrtc peers (which
//! ignore loopback) can reach the SFU without any traffic touching this machine's own network.
//!
//! Hosts live in `confab-<pid>-<host>` namespaces, the bridge in `confab-<pid>-switch`; every
//! interface is created directly inside its namespace, and dropping the [`Testnet`] deletes
//! them all. Namespaces left behind by a killed run are removed on the next start.

use std::process::Command;

use crate::error::XtaskError;
use crate::process;

/// The subnet the test hosts share; nothing outside the namespaces routes to it.
const SUBNET_PREFIX: &str = "10.77.0";

#[derive(Debug)]
pub struct Testnet {
    namespaces: Vec<String>,
    hosts: Vec<Host>,
    /// The namespace of the bridge every host hangs off.
    pub switch: String,
}

#[derive(Debug, Clone)]
pub struct Host {
    pub name: &'static str,
    pub namespace: String,
    pub ip: String,
    /// Its port on the bridge.
    port: String,
}

impl Testnet {
    /// Creates one namespace per host name, addressed `10.77.0.1`, `.2`, … in order.
    pub fn create(host_names: &[&'static str]) -> Result<Self, XtaskError> {
        remove_stale_namespaces();
        let prefix = format!("confab-{}", std::process::id());
        let switch = format!("{prefix}-switch");
        let mut testnet = Self {
            namespaces: Vec::new(),
            hosts: Vec::new(),
            switch: switch.clone(),
        };
        ip(&["netns", "add", &switch]).map_err(needs_privileges)?;
        testnet.namespaces.push(switch.clone());
        in_namespace(&switch, &["link", "add", "br0", "type", "bridge"])?;
        in_namespace(&switch, &["link", "set", "br0", "up"])?;
        for (index, name) in host_names.iter().enumerate() {
            let namespace = format!("{prefix}-{name}");
            let ip_address = format!("{SUBNET_PREFIX}.{}", index + 1);
            let port = format!("p{index}");
            ip(&["netns", "add", &namespace])?;
            testnet.namespaces.push(namespace.clone());
            in_namespace(
                &switch,
                &[
                    "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                    &namespace,
                ],
            )?;
            in_namespace(&switch, &["link", "set", &port, "master", "br0"])?;
            in_namespace(&switch, &["link", "set", &port, "up"])?;
            let cidr = format!("{ip_address}/24");
            in_namespace(&namespace, &["addr", "add", &cidr, "dev", "eth0"])?;
            in_namespace(&namespace, &["link", "set", "eth0", "up"])?;
            in_namespace(&namespace, &["link", "set", "lo", "up"])?;
            testnet.hosts.push(Host {
                name,
                namespace,
                ip: ip_address,
                port,
            });
        }
        Ok(testnet)
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|host| host.name == name)
    }

    /// Makes the bridge a firewall that silently drops every UDP datagram `host` sends or
    /// is sent, as many corporate networks do; TCP passes. The drops are counted in the
    /// `nft` table [`FIREWALL_TABLE`] of [`Self::switch`].
    pub fn drop_udp_of(&self, host: &Host) -> Result<(), XtaskError> {
        let nft = |args: &[&str]| {
            let mut full = vec!["netns", "exec", self.switch.as_str(), "nft"];
            full.extend_from_slice(args);
            ip(&full)
        };
        nft(&["add", "table", "bridge", FIREWALL_TABLE])?;
        nft(&[
            "add",
            "chain",
            "bridge",
            FIREWALL_TABLE,
            "forward",
            "{ type filter hook forward priority 0; policy accept; }",
        ])?;
        for direction in ["iifname", "oifname"] {
            nft(&[
                "add",
                "rule",
                "bridge",
                FIREWALL_TABLE,
                "forward",
                direction,
                &host.port,
                "meta",
                "l4proto",
                "udp",
                "counter",
                "drop",
            ])?;
        }
        Ok(())
    }
}

/// The `nft` table (bridge family, in the switch's namespace) of [`Testnet::drop_udp_of`].
pub const FIREWALL_TABLE: &str = "confab_firewall";

impl Host {
    /// Arguments to `ip` that run the rest of the command line inside this host.
    pub fn exec_args(&self) -> [&str; 3] {
        ["netns", "exec", &self.namespace]
    }
}

impl Drop for Testnet {
    fn drop(&mut self) {
        for namespace in self.namespaces.iter().rev() {
            if let Err(error) = ip(&["netns", "del", namespace]) {
                eprintln!("warning: could not delete network namespace {namespace}: {error}");
            }
        }
    }
}

fn in_namespace(namespace: &str, args: &[&str]) -> Result<(), XtaskError> {
    let mut full = vec!["-n", namespace];
    full.extend_from_slice(args);
    ip(&full)
}

fn ip(args: &[&str]) -> Result<(), XtaskError> {
    process::run(
        Command::new("ip")
            .args(args)
            .stdout(std::process::Stdio::null()),
    )
}

fn needs_privileges(error: XtaskError) -> XtaskError {
    XtaskError::MissingPrerequisites(format!(
        "cannot create the test network ({error}). The conformance tier runs LiveKit's libwebrtc \
         peers in network namespaces, which needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN) and \
         the `ip` tool (package iproute2)."
    ))
}

/// Deletes `confab-<pid>-…` namespaces whose run no longer exists.
fn remove_stale_namespaces() {
    let Some(listing) = process::output(Command::new("ip").args(["netns", "list"])) else {
        return;
    };
    for line in listing.lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix("confab-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
        if !alive {
            let _ = ip(&["netns", "del", name]);
        }
    }
}
