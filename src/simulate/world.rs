//! The simulated organisation: servers, mailboxes, outside correspondents and the words they
//! use in subjects.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Addresses are cloned into many rows and messages; `Rc<str>` makes that a pointer copy.
pub(super) type Addr = Rc<str>;

pub(super) const DOMAIN: &str = "corp.example";
pub(super) const FW_IP: &str = "192.0.2.10";
pub(super) const FW_HOST: &str = "fw.corp.example";
pub(super) const APP_IP: &str = "192.0.2.44";
pub(super) const APP_HOST: &str = "healthmon01.corp.example";
pub(super) const BULK_IP: &str = "192.0.2.50";
pub(super) const BULK_HOST: &str = "billing01.corp.example";
pub(super) const UNEXPECTED_IP: &str = "203.0.113.77";
pub(super) const UNEXPECTED_HELO: &str = "WIN-7GQ2K1N8R4A";
pub(super) const NDR_SENDER: &str =
    "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@corp.example";
pub(super) const HEALTHCHECK: &str = "healthcheck@corp.example";
pub(super) const OPS_ALERTS: &str = "ops.alerts@corp.example";
pub(super) const ANNA: &str = "anna.berg@corp.example";
pub(super) const AUTORESPONDER: &str = "autoresponder@fabrikam.example";
pub(super) const NEWS: &str = "news@corp.example";
pub(super) const REPORTS: &str = "reports@corp.example";
pub(super) const ALL_STAFF: &str = "all-staff@corp.example";
pub(super) const FLOOD_IP: &str = "192.0.2.61";
pub(super) const FLOOD_HOST: &str = "erp01.corp.example";
pub(super) const FLOOD_SENDER: &str = "erp-export@corp.example";
pub(super) const FLOOD_RECIPIENT: &str = "invoice.archive@corp.example";
pub(super) const HELPDESK: &str = "helpdesk@corp.example";
pub(super) const TICKETS: &str = "tickets@partner.example";
pub(super) const SEND_TO_FW: &str = "Outbound via Firewall";
pub(super) const SEND_INTRA: &str = "Intra-Organization SMTP Send Connector";
pub(super) const CUSTOM_DATA: &str = "S:DeliveryPriority=Normal;S:AccountForest=corp.example";

const FIRST: [&str; 40] = [
    "anna", "lars", "maria", "jonas", "sofia", "erik", "lena", "david", "sara", "tobias", "julia",
    "felix", "emma", "noah", "laura", "paul", "nina", "simon", "eva", "max", "clara", "lukas",
    "ida", "oskar", "hanna", "leon", "mia", "jan", "lea", "tim", "ella", "ben", "amelie", "finn",
    "nora", "karl", "vera", "jakob", "greta", "emil",
];
const LAST: [&str; 40] = [
    "berg", "lind", "holm", "meyer", "schulz", "novak", "jensen", "larsen", "fischer", "weber",
    "wagner", "becker", "hoffmann", "keller", "richter", "wolf", "klein", "hartmann", "lang",
    "krause", "koch", "bauer", "peters", "nilsson", "dahl", "strand", "eklund", "moreau", "rossi",
    "silva", "brown", "walker", "carter", "hughes", "price", "reed", "ward", "cole", "bell",
    "ross",
];

pub(super) const USERS: usize = 200;
const CONTACTS_PER_DOMAIN: usize = 60;
pub(super) const READER_DOMAINS: [&str; 7] = [
    "contoso.example",
    "fabrikam.example",
    "adatum.example",
    "northwind.example",
    "tailspin.example",
    "woodgrove.example",
    "litware.example",
];

/// Subjects with commas and quotes on purpose: real subjects have them and they exercise quoting.
const SUBJECTS: [&str; 32] = [
    "Budget, Q4 planning",
    "Lunch on Friday?",
    "\"Project Falcon\" status update",
    "FW: Invoice 2026-1187, overdue",
    "Re: Meeting notes",
    "Re: Re: Travel request, Hamburg",
    "Weekly report",
    "Contract draft v3",
    "Re: \"quick question\"",
    "Offsite agenda, day 2",
    "Holiday schedule",
    "Re: Server maintenance window",
    "Customer feedback, November",
    "Please review: pricing sheet",
    "Training session on Thursday",
    "Re: Purchase order 44817",
    "Minutes: steering committee",
    "Welcome aboard!",
    "Re: Broken link on intranet",
    "Slides for tomorrow",
    "Expense report, October",
    "Re: Parking, \"level -2\"",
    "Delivery schedule",
    "Q3 results, final",
    "Re: Support ticket #81234",
    "Access request",
    "Candidate interview feedback",
    "Re: Draft press release",
    "Shipping delay, order 99120",
    "Fwd: Conference invitation",
    "Re: Team event, ideas?",
    "Quote request",
];

const SERVICES: [&str; 8] = [
    "api-gateway",
    "orders-db",
    "payments",
    "search",
    "auth",
    "cdn-edge",
    "inventory",
    "reporting",
];

const SPOOFED: [&str; 6] = [
    "billing@secure-invoice.example",
    "no-reply@docsign-portal.example",
    "payroll@hr-update.example",
    "it-support@mailbox-verify.example",
    "ceo.office@corp-mail.example",
    "accounts@wire-transfer.example",
];

const GUESSED: [&str; 16] = [
    "admin",
    "info",
    "sales",
    "hr",
    "finance",
    "support",
    "j.smith",
    "m.miller",
    "ceo",
    "accounting",
    "office",
    "billing",
    "webmaster",
    "postmaster2",
    "jobs",
    "marketing",
];

pub(super) struct Server {
    pub(super) name: Rc<str>,
    pub(super) host: Rc<str>,
    pub(super) ip: Rc<str>,
    pub(super) mdbs: [String; 2],
    pub(super) frontend_connector: Rc<str>,
    pub(super) relay_connector: Rc<str>,
    pub(super) hub_connector: Rc<str>,
}

pub(super) struct Mailbox {
    pub(super) addr: Addr,
    pub(super) server: usize,
    pub(super) mdb: usize,
    pub(super) guid: String,
    pub(super) workstation: String,
}

/// Where the resolver sends an address.
pub(super) enum Dest {
    Mailbox(usize),
    /// In the accepted domain but nobody has it (the app's fake sender, guessed names).
    Unknown,
    /// A distribution group that only accepts authenticated senders.
    Restricted,
    External,
}

pub(super) struct World {
    pub(super) servers: Vec<Server>,
    pub(super) mailboxes: Vec<Mailbox>,
    /// Ordinary people (indices into `mailboxes`).
    pub(super) users: Vec<usize>,
    by_addr: HashMap<Addr, usize>,
    pub(super) contacts: Vec<Addr>,
    /// External addresses the firewall rejects (typos of real contacts, dead subscribers).
    pub(super) bad_external: HashSet<Addr>,
    /// Users with an out-of-office reply switched on.
    pub(super) oof: HashSet<usize>,
    pub(super) ops: usize,
    pub(super) anna: usize,
    pub(super) news: usize,
    pub(super) reports: usize,
    pub(super) healthcheck: Addr,
    pub(super) ops_addr: Addr,
    pub(super) autoresponder: Addr,
    pub(super) ndr_sender: Addr,
    pub(super) null: Addr,
    pub(super) all_staff: Addr,
}

pub(super) fn guid(rng: &mut ChaCha8Rng) -> String {
    let a: u64 = rng.random();
    let b: u64 = rng.random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

impl World {
    pub(super) fn new(rng: &mut ChaCha8Rng, n_servers: usize) -> Self {
        let servers: Vec<Server> = (0..n_servers)
            .map(|i| {
                let name = format!("EX{:02}", i + 1);
                Server {
                    host: format!("{name}.{DOMAIN}").into(),
                    ip: format!("10.0.1.{}", 11 + i).into(),
                    mdbs: [guid(rng), guid(rng)],
                    frontend_connector: format!("{name}\\Default Frontend {name}").into(),
                    relay_connector: format!("{name}\\Relay Apps {name}").into(),
                    hub_connector: format!("{name}\\Default {name}").into(),
                    name: name.into(),
                }
            })
            .collect();

        let mut pairs: Vec<(usize, usize)> = (0..FIRST.len())
            .flat_map(|f| (0..LAST.len()).map(move |l| (f, l)))
            .filter(|&(f, l)| (f, l) != (0, 0))
            .collect();
        pairs.shuffle(rng);
        let mut names: Vec<String> = vec![ANNA.to_string()];
        names.extend(
            pairs[..USERS - 1]
                .iter()
                .map(|&(f, l)| format!("{}.{}@{DOMAIN}", FIRST[f], LAST[l])),
        );
        // Contacts reuse the name lists from the other end of the shuffle, so nobody outside
        // shares a local part with a colleague by construction.
        let mut contacts: Vec<Addr> = Vec::new();
        for (d, domain) in ["contoso.example", "fabrikam.example"].iter().enumerate() {
            for &(f, l) in pairs
                .iter()
                .rev()
                .skip(d * CONTACTS_PER_DOMAIN)
                .take(CONTACTS_PER_DOMAIN)
            {
                contacts.push(format!("{}.{}@{domain}", FIRST[f], LAST[l]).into());
            }
        }

        let mut world = World {
            servers,
            mailboxes: Vec::new(),
            users: Vec::new(),
            by_addr: HashMap::new(),
            contacts,
            bad_external: HashSet::new(),
            oof: HashSet::new(),
            ops: 0,
            anna: 0,
            news: 0,
            reports: 0,
            healthcheck: HEALTHCHECK.into(),
            ops_addr: OPS_ALERTS.into(),
            autoresponder: AUTORESPONDER.into(),
            ndr_sender: NDR_SENDER.into(),
            null: "<>".into(),
            all_staff: ALL_STAFF.into(),
        };
        for (i, name) in names.iter().enumerate() {
            let m = world.add_mailbox(rng, name, i % n_servers);
            world.users.push(m);
        }
        world.anna = world.users[0];
        world.ops = world.add_mailbox(rng, OPS_ALERTS, 1 % n_servers);
        world.news = world.add_mailbox(rng, NEWS, 0);
        world.reports = world.add_mailbox(rng, REPORTS, 1 % n_servers);
        // Three people (never anna, whose rule is the ping-pong's) are on holiday.
        for k in [17, 58, 133] {
            world.oof.insert(world.users[k]);
        }
        world
    }

    /// A mailbox only some scenarios have; added after everything else was drawn, so the
    /// scenarios without it keep their random stream (and bytes).
    pub(super) fn add_extra(&mut self, rng: &mut ChaCha8Rng, addr: &str, server: usize) -> usize {
        let s = server % self.servers.len();
        self.add_mailbox(rng, addr, s)
    }

    fn add_mailbox(&mut self, rng: &mut ChaCha8Rng, addr: &str, server: usize) -> usize {
        let addr: Addr = addr.into();
        let idx = self.mailboxes.len();
        self.mailboxes.push(Mailbox {
            addr: addr.clone(),
            server,
            mdb: rng.random_range(0..2),
            guid: guid(rng),
            workstation: format!(
                "10.20.{}.{}",
                rng.random_range(1..40),
                rng.random_range(2..250)
            ),
        });
        self.by_addr.insert(addr, idx);
        idx
    }

    pub(super) fn classify(&self, addr: &str) -> Dest {
        if let Some(&m) = self.by_addr.get(addr) {
            return Dest::Mailbox(m);
        }
        match addr.rsplit_once('@') {
            Some((_, d)) if d.eq_ignore_ascii_case(DOMAIN) => {
                if addr.eq_ignore_ascii_case(ALL_STAFF) {
                    Dest::Restricted
                } else {
                    Dest::Unknown
                }
            }
            _ => Dest::External,
        }
    }

    pub(super) fn mailbox_of(&self, addr: &str) -> Option<usize> {
        self.by_addr.get(addr).copied()
    }

    pub(super) fn user(&self, rng: &mut ChaCha8Rng) -> usize {
        self.users[rng.random_range(0..self.users.len())]
    }

    pub(super) fn contact(&self, rng: &mut ChaCha8Rng) -> Addr {
        self.contacts[rng.random_range(0..self.contacts.len())].clone()
    }

    /// A typo of a real contact (two neighbouring letters swapped), which the firewall rejects.
    pub(super) fn mistyped(&mut self, rng: &mut ChaCha8Rng) -> Addr {
        for _ in 0..8 {
            let good = self.contact(rng);
            let (local, domain) = good.split_once('@').unwrap_or((&good, "contoso.example"));
            let chars: Vec<char> = local.chars().collect();
            if chars.len() < 3 {
                continue;
            }
            let i = rng.random_range(0..chars.len() - 1);
            if chars[i] == chars[i + 1] || chars[i] == '.' || chars[i + 1] == '.' {
                continue;
            }
            let mut typo = chars.clone();
            typo.swap(i, i + 1);
            let addr: Addr = format!("{}@{domain}", typo.iter().collect::<String>()).into();
            if self.contacts.contains(&addr) {
                continue;
            }
            self.bad_external.insert(addr.clone());
            return addr;
        }
        let addr: Addr =
            format!("no.such.person{}@contoso.example", rng.random_range(1..999)).into();
        self.bad_external.insert(addr.clone());
        addr
    }

    pub(super) fn guessed(&self, rng: &mut ChaCha8Rng) -> Addr {
        format!("{}@{DOMAIN}", GUESSED[rng.random_range(0..GUESSED.len())]).into()
    }
}

pub(super) fn subject(rng: &mut ChaCha8Rng) -> &'static str {
    SUBJECTS[rng.random_range(0..SUBJECTS.len())]
}

pub(super) fn spoofed_sender(rng: &mut ChaCha8Rng) -> Addr {
    SPOOFED[rng.random_range(0..SPOOFED.len())].into()
}

pub(super) fn alert_subject(rng: &mut ChaCha8Rng, n: u64) -> String {
    let svc = SERVICES[rng.random_range(0..SERVICES.len())];
    match rng.random_range(0..3) {
        0 => format!(
            "[ALERT] Health check failed: {svc} (HTTP 503, {} of 3 probes)",
            rng.random_range(1..=3)
        ),
        1 => format!("[ALERT] \"{svc}\" unreachable, check #{n}"),
        _ => format!("[ALERT] Health check failed: {svc} - timeout after 30s"),
    }
}
