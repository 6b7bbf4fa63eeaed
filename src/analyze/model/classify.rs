//! What a row says, in types: event ids, sources, the kind of a recipient status, and the flags
//! a subject or an address carries. Everything a detector asks of a row is decided here, once
//! per row while parsing, so detectors compare enums instead of text.

/// Event ids. Unknown ids are `Other` and still counted under their own name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Ev {
    Receive,
    Submit,
    Send,
    SendExternal,
    Deliver,
    Fail,
    Dsn,
    Defer,
    Drop,
    Badmail,
    Poison,
    Expand,
    Redirect,
    Resolve,
    Transfer,
    Throttle,
    Resubmit,
    ResubmitDefer,
    ResubmitFail,
    SubmitDefer,
    SubmitFail,
    NotifyMapi,
    NotifyShadow,
    HaReceive,
    HaRedirect,
    HaRedirectFail,
    HaDiscard,
    AgentInfo,
    DuplicateDeliver,
    DuplicateExpand,
    DuplicateRedirect,
    DeliverFail,
    ModeratorApprove,
    ModeratorReject,
    ModerationExpire,
    ModeratorsAllNdr,
    Quarantine,
    Other,
}

impl Ev {
    pub fn of(s: &str) -> Ev {
        match s {
            "RECEIVE" => Ev::Receive,
            "SUBMIT" => Ev::Submit,
            "SEND" => Ev::Send,
            "SENDEXTERNAL" => Ev::SendExternal,
            "DELIVER" => Ev::Deliver,
            "FAIL" => Ev::Fail,
            "DSN" => Ev::Dsn,
            "DEFER" => Ev::Defer,
            "DROP" => Ev::Drop,
            "BADMAIL" => Ev::Badmail,
            "POISONMESSAGE" => Ev::Poison,
            "EXPAND" => Ev::Expand,
            "REDIRECT" => Ev::Redirect,
            "RESOLVE" => Ev::Resolve,
            "TRANSFER" => Ev::Transfer,
            "THROTTLE" => Ev::Throttle,
            "RESUBMIT" => Ev::Resubmit,
            "RESUBMITDEFER" => Ev::ResubmitDefer,
            "RESUBMITFAIL" => Ev::ResubmitFail,
            "SUBMITDEFER" => Ev::SubmitDefer,
            "SUBMITFAIL" => Ev::SubmitFail,
            "NOTIFYMAPI" => Ev::NotifyMapi,
            "NOTIFYSHADOW" => Ev::NotifyShadow,
            "HARECEIVE" => Ev::HaReceive,
            "HAREDIRECT" => Ev::HaRedirect,
            "HAREDIRECTFAIL" => Ev::HaRedirectFail,
            "HADISCARD" => Ev::HaDiscard,
            "AGENTINFO" => Ev::AgentInfo,
            "DUPLICATEDELIVER" => Ev::DuplicateDeliver,
            "DUPLICATEEXPAND" => Ev::DuplicateExpand,
            "DUPLICATEREDIRECT" => Ev::DuplicateRedirect,
            "DELIVERFAIL" => Ev::DeliverFail,
            "MODERATORAPPROVE" => Ev::ModeratorApprove,
            "MODERATORREJECT" => Ev::ModeratorReject,
            "MODERATIONEXPIRE" => Ev::ModerationExpire,
            "MODERATORSALLNDR" => Ev::ModeratorsAllNdr,
            "QUARANTINE" => Ev::Quarantine,
            _ => Ev::Other,
        }
    }

    /// A message entering a server's queue (Exchange's "incoming" for queue velocity).
    pub fn is_arrival(self) -> bool {
        matches!(self, Ev::Receive | Ev::Submit)
    }

    /// A message leaving a server's queue ("outgoing").
    pub fn is_departure(self) -> bool {
        matches!(
            self,
            Ev::Send
                | Ev::SendExternal
                | Ev::Deliver
                | Ev::Fail
                | Ev::DeliverFail
                | Ev::Drop
                | Ev::Badmail
                | Ev::Poison
        )
    }

    /// Final delivery or hand-off to the next hop: the end of a message's latency.
    pub fn is_completion(self) -> bool {
        matches!(self, Ev::Deliver | Ev::SendExternal | Ev::Send)
    }

    /// The message (or one of its recipients) failed for good. Shadow-redundancy failures say
    /// nothing about delivery and are not here.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Ev::Fail | Ev::DeliverFail | Ev::Drop | Ev::Badmail | Ev::Poison | Ev::SubmitFail
        )
    }

    /// Shadow redundancy: copies kept in case a server dies. Never about delivery.
    pub fn is_shadow(self) -> bool {
        matches!(
            self,
            Ev::HaReceive | Ev::HaRedirect | Ev::HaRedirectFail | Ev::HaDiscard | Ev::NotifyShadow
        )
    }
}

/// Sources (the component that logged the row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Src {
    Smtp,
    StoreDriver,
    Dsn,
    MailboxRule,
    Agent,
    Routing,
    Queue,
    SafetyNet,
    Redundancy,
    Approval,
    Gateway,
    Pickup,
    Poison,
    Other,
}

impl Src {
    pub fn of(s: &str) -> Src {
        match s {
            "SMTP" => Src::Smtp,
            "STOREDRIVER" => Src::StoreDriver,
            "DSN" => Src::Dsn,
            "MAILBOXRULE" => Src::MailboxRule,
            "AGENT" => Src::Agent,
            "ROUTING" => Src::Routing,
            "QUEUE" => Src::Queue,
            "SAFETYNET" => Src::SafetyNet,
            "REDUNDANCY" => Src::Redundancy,
            "APPROVAL" => Src::Approval,
            "GATEWAY" => Src::Gateway,
            "PICKUP" => Src::Pickup,
            "POISONMESSAGE" => Src::Poison,
            _ => Src::Other,
        }
    }
}

/// What a recipient status means for an incident, decided by its enhanced code first and its
/// text second, so unknown variants of a known code still land in the right place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum StatusKind {
    /// No status, or one that signals nothing special (`To`, `250 2.1.5 ...`).
    Plain,
    /// The recipient's mailbox is over its quota (by Exchange's exception text, or a 4.2.2/5.2.2
    /// from the store driver).
    MailboxFull,
    /// 5.1.1 / 5.1.10: no such recipient.
    NotFound,
    /// 5.4.6 / 5.4.14: hop count exceeded, a routing loop.
    HopCount,
    /// 5.3.5: Exchange detected a loop.
    LoopDetected,
    /// 5.7.128: transport rules loop count exceeded.
    RuleLoop,
    /// 5.2.121 / 5.2.122: hourly receive limits.
    ReceiveLimit,
    /// 5.1.90, 5.1.8, 5.7.501–503, submission quota: a sender limited or blocked.
    SendLimit,
    /// 4.3.2 recipient thread limit: delivery throttling.
    ThreadLimit,
    /// 4.4.7 QUEUE.Expired, 5.4.300, 5.4.7: expired in the queue.
    Expired,
    /// 4.3.1 insufficient system resources: back pressure.
    Resources,
}

impl StatusKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusKind::Plain => "plain",
            StatusKind::MailboxFull => "mailbox_full",
            StatusKind::NotFound => "not_found",
            StatusKind::HopCount => "hop_count",
            StatusKind::LoopDetected => "loop_detected",
            StatusKind::RuleLoop => "rule_loop",
            StatusKind::ReceiveLimit => "receive_limit",
            StatusKind::SendLimit => "send_limit",
            StatusKind::ThreadLimit => "thread_limit",
            StatusKind::Expired => "expired",
            StatusKind::Resources => "resources",
        }
    }
}

/// `needle` in `hay`, ignoring ASCII case. Every status of a storm's rows is asked for several
/// phrases, so candidates come from a vector search for the first letter in either case.
fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some(&first) = n.first() else {
        return true;
    };
    let Some(last_start) = h.len().checked_sub(n.len()) else {
        return false;
    };
    memchr::memchr2_iter(
        first.to_ascii_lowercase(),
        first.to_ascii_uppercase(),
        &h[..=last_start],
    )
    .any(|i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Classifies one recipient status given its enhanced code (`""` when none) and the row's
/// source.
pub fn status_kind(status: &str, code: &str, src: Src) -> StatusKind {
    let class = code.as_bytes().first().copied();
    if !matches!(class, Some(b'4') | Some(b'5')) {
        // Texts without a code still tell (older builds, online traces).
        if status.len() > 8 && contains_ci(status, "QuotaExceeded") {
            return StatusKind::MailboxFull;
        }
        if status.len() > 8 && contains_ci(status, "Hop count exceeded") {
            return StatusKind::HopCount;
        }
        return StatusKind::Plain;
    }
    let quota_text = contains_ci(status, "QuotaExceeded")
        || contains_ci(status, "mailbox full")
        || contains_ci(status, "mailbox is full")
        || contains_ci(status, "ShutoffQuota");
    if quota_text && !contains_ci(status, "submission quota") {
        return StatusKind::MailboxFull;
    }
    match code {
        "4.2.2" | "5.2.2" => {
            if contains_ci(status, "submission quota") || contains_ci(status, "SubmissionQuota") {
                StatusKind::SendLimit
            } else if src == Src::StoreDriver {
                StatusKind::MailboxFull
            } else {
                StatusKind::Plain
            }
        }
        "5.1.1" | "5.1.10" => StatusKind::NotFound,
        "5.4.6" | "5.4.14" => StatusKind::HopCount,
        "5.3.5" => StatusKind::LoopDetected,
        "5.7.128" => StatusKind::RuleLoop,
        "5.2.121" | "5.2.122" => StatusKind::ReceiveLimit,
        "5.1.90" | "5.1.8" | "5.7.501" | "5.7.502" | "5.7.503" => StatusKind::SendLimit,
        "4.4.7" | "5.4.300" | "5.4.7" | "4.4.300" => StatusKind::Expired,
        "4.3.1" => StatusKind::Resources,
        "4.3.2" if contains_ci(status, "thread limit") => StatusKind::ThreadLimit,
        _ if contains_ci(status, "Hop count exceeded") => StatusKind::HopCount,
        _ if contains_ci(status, "rules loop count") => StatusKind::RuleLoop,
        _ if contains_ci(status, "QUEUE.Expired") => StatusKind::Expired,
        _ if contains_ci(status, "submission quota") => StatusKind::SendLimit,
        _ => StatusKind::Plain,
    }
}

/// Row flags (a `u16` per row; a message carries the union of its rows' flags).
pub mod flag {
    /// `return-path` is `<>`: a notification by RFC 5321.
    pub const NULL_RETURN_PATH: u16 = 1;
    /// Sent by Exchange's system mailbox, postmaster or mailer-daemon.
    pub const SYSTEM_SENDER: u16 = 1 << 1;
    /// `Undeliverable:` and its kin in other languages.
    pub const NDR_SUBJECT: u16 = 1 << 2;
    /// An automatic-reply marker leads the subject (`Automatic reply:`, `Abwesenheitsnotiz:`).
    pub const AUTO_SUBJECT: u16 = 1 << 3;
    /// "Your mailbox is full" and the like.
    pub const QUOTA_SUBJECT: u16 = 1 << 4;
    /// Written by an inbox rule (auto-reply, out of office, rule notice).
    pub const MAILBOX_RULE: u16 = 1 << 5;
    /// A reply prefix leads the subject (`Re:`, `AW:`, `Sv:`).
    pub const REPLY_SUBJECT: u16 = 1 << 6;
    /// An automatic-reply marker appears after a reply prefix (`Re: Automatic reply: ...`).
    pub const AUTO_INSIDE: u16 = 1 << 7;
    /// A THROTTLE whose reference is `XLoopHeaderCount:n/m`: Exchange cut an auto-reply loop.
    pub const LOOP_HEADER: u16 = 1 << 8;
    /// Health probes and monitoring mailboxes: the servers talking to themselves.
    pub const PROBE: u16 = 1 << 9;
    /// Directionality `Incoming`.
    pub const INCOMING: u16 = 1 << 10;
    /// The DSN row that created this notification.
    pub const DSN_ROW: u16 = 1 << 11;
    /// Classified as an automatic answer from its timing in a responder loop (no mark of its
    /// own in our logs).
    pub const INFERRED_REPLY: u16 = 1 << 12;
}

/// Subject prefixes of non-delivery reports, in the languages Exchange and common servers use.
const NDR_PREFIXES: &[&str] = &[
    "undeliverable:",
    "undelivered mail",
    "delivery status notification",
    "mail delivery failed",
    "returned mail",
    "delivery has failed",
    "delivery failure",
    "failure notice",
    "unzustellbar:",
    "non remis",
    "nem kézbesíthető:",
    "onbestelbaar:",
    "no se puede entregar:",
    "non recapitabile:",
    "impossibile recapitare:",
    "kan ikke leveres:",
    "olevererbart:",
    "ej levererbart:",
    "niedostarczalne:",
    "nedoručitelné:",
    "não é possível entregar:",
];

/// Automatic-reply markers (Exchange's own in several languages, and common others).
const AUTO_MARKERS: &[&str] = &[
    "automatic reply:",
    "autoreply:",
    "auto-reply:",
    "auto reply:",
    "auto:",
    "out of office:",
    "out of office reply:",
    "ooo:",
    "abwesenheitsnotiz:",
    "automatische antwort:",
    "réponse automatique :",
    "réponse automatique:",
    "automatikus válasz:",
    "risposta automatica:",
    "respuesta automática:",
    "resposta automática:",
    "automatisch antwoord:",
    "autosvar:",
    "automatisk svar:",
    "automaattinen vastaus:",
    "automatyczna odpowiedź:",
    "automatická odpověď:",
    "otomatik yanıt:",
    "自动答复:",
    "自動応答:",
];

/// Reply and forward prefixes that wrap a subject.
const REPLY_PREFIXES: &[&str] = &[
    "re:", "aw:", "sv:", "vs:", "odp:", "r:", "res:", "antw:", "ynt:", "réf:", "ref:", "fw:",
    "fwd:", "wg:", "tr:", "rv:", "enc:",
];

/// `s` without the prefix `p` (given in lower case), compared ignoring ASCII case: subjects are
/// classified per distinct subject, and markers are written with their usual capitals.
fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    let n = p.len();
    (s.len() >= n && s.as_bytes()[..n].eq_ignore_ascii_case(p.as_bytes()) && s.is_char_boundary(n))
        .then(|| &s[n..])
}

fn strip_any<'a>(s: &'a str, set: &[&str]) -> Option<&'a str> {
    set.iter().find_map(|p| strip_prefix_ci(s, p))
}

/// Flags a subject carries.
pub fn subject_flags(subject: &str) -> u16 {
    let s = subject.trim_start();
    let mut f = 0;
    if strip_any(s, NDR_PREFIXES).is_some() {
        f |= flag::NDR_SUBJECT;
    }
    if strip_any(s, AUTO_MARKERS).is_some() {
        f |= flag::AUTO_SUBJECT;
    }
    // Below the leading reply prefixes: a reply to an automatic reply.
    let mut rest = s;
    let mut replies = 0;
    while let Some(r) = strip_any(rest, REPLY_PREFIXES) {
        rest = r.trim_start();
        replies += 1;
        if replies > 50 {
            break;
        }
    }
    if replies > 0 {
        f |= flag::REPLY_SUBJECT;
        if strip_any(rest, AUTO_MARKERS).is_some() {
            f |= flag::AUTO_INSIDE;
        }
    }
    // Runs for every row: lower-case into a stack buffer once, then plain substring searches.
    let mut buf = [0u8; 256];
    let n = s.len().min(buf.len());
    for (d, c) in buf.iter_mut().zip(s.as_bytes()) {
        *d = c.to_ascii_lowercase();
    }
    let low = &buf[..n];
    if QUOTA_WORDS.iter().any(|w| w.find(low).is_some()) {
        f |= flag::QUOTA_SUBJECT;
    }
    f
}

/// What a "mailbox full" notice says, built once: a searcher built per call cost more than
/// the search.
static QUOTA_WORDS: std::sync::LazyLock<[memchr::memmem::Finder<'static>; 5]> =
    std::sync::LazyLock::new(|| {
        [
            &b"box is full"[..],
            b"mailbox full",
            b"quota",
            b"postfach ist voll",
            b"est pleine",
        ]
        .map(memchr::memmem::Finder::new)
    });

/// The subject with every leading reply prefix and automatic-reply marker removed: the thread a
/// message belongs to (`Re: Automatic reply: Re: [Ticket #4711] printer` → `[Ticket #4711]
/// printer`).
pub fn base_subject(subject: &str) -> &str {
    let mut rest = subject.trim();
    for _ in 0..200 {
        match strip_any(rest, REPLY_PREFIXES).or_else(|| strip_any(rest, AUTO_MARKERS)) {
            Some(r) => rest = r.trim_start(),
            None => break,
        }
    }
    rest
}

/// The subject an NDR reports on (`Undeliverable: Hello` → `Hello`); `None` for a subject with
/// no NDR prefix (`Delivery Status Notification (Failure)` says nothing of the original).
pub fn ndr_original_subject(subject: &str) -> Option<&str> {
    let s = subject.trim_start();
    let rest = strip_any(s, NDR_PREFIXES)?;
    let rest = rest.trim_start_matches(':').trim();
    (!rest.is_empty()).then_some(rest)
}

fn starts_with_ci(s: &str, p: &str) -> bool {
    s.len() >= p.len() && s.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
}

/// Exchange's system mailbox, postmaster and mailer-daemon send notifications.
pub fn is_system_sender(a: &str) -> bool {
    starts_with_ci(a, "microsoftexchange")
        || starts_with_ci(a, "postmaster@")
        || starts_with_ci(a, "mailer-daemon@")
}

/// Mailboxes that only exist for Exchange's own health checks.
pub fn is_probe_address(a: &str) -> bool {
    starts_with_ci(a, "healthmailbox")
        || starts_with_ci(a, "extest_")
        || starts_with_ci(a, "inboundproxy@")
        || starts_with_ci(a, "outboundproxy@")
        || starts_with_ci(a, "monitoringmailbox")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_ci_finds_phrases_in_any_case_and_place() {
        assert!(contains_ci("550 5.2.2 Mailbox FULL", "mailbox full"));
        assert!(contains_ci("QUOTAEXCEEDED", "QuotaExceeded"));
        assert!(contains_ci("xQuotaExceeded", "quotaexceeded"));
        assert!(contains_ci("anything", ""));
        assert!(!contains_ci("mailbox ful", "mailbox full"));
        assert!(!contains_ci("", "a"));
        assert!(contains_ci("1.2.3 (x)", "(X)"));
        assert!(!contains_ci("mmmailbox fulL!", "mailbox  full"));
        assert!(contains_ci("mmmailbox fulL!", "mailbox full"));
    }

    #[test]
    fn statuses_by_code_then_text() {
        let k = |s: &str, src| {
            status_kind(
                s,
                crate::ingest::fields::enhanced_code(s).unwrap_or(""),
                src,
            )
        };
        assert_eq!(
            k("554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded", Src::StoreDriver),
            StatusKind::MailboxFull
        );
        assert_eq!(
            k(
                "550 5.2.0 STOREDRV.Deliver.Exception:QuotaExceededException",
                Src::StoreDriver
            ),
            StatusKind::MailboxFull
        );
        assert_eq!(
            k("554 5.2.2 Submission quota exceeded", Src::Smtp),
            StatusKind::SendLimit
        );
        assert_eq!(
            k(
                "550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found",
                Src::Smtp
            ),
            StatusKind::NotFound
        );
        assert_eq!(
            k(
                "554 5.4.6 Hop count exceeded - possible mail loop",
                Src::Routing
            ),
            StatusKind::HopCount
        );
        assert_eq!(
            k(
                "550 5.4.14 Hop count exceeded - possible mail loop ATTR34",
                Src::Routing
            ),
            StatusKind::HopCount
        );
        assert_eq!(
            k(
                "550 5.7.128 TRANSPORT.RULES.RejectMessage; Transport rules loop count exceeded",
                Src::Agent
            ),
            StatusKind::RuleLoop
        );
        assert_eq!(
            k("550 5.2.121 RecipientThrottling; hourly", Src::Smtp),
            StatusKind::ReceiveLimit
        );
        assert_eq!(
            k("550 5.7.502 Access denied", Src::Smtp),
            StatusKind::SendLimit
        );
        assert_eq!(
            k(
                "432 4.3.2 STOREDRV.Deliver; recipient thread limit exceeded",
                Src::StoreDriver
            ),
            StatusKind::ThreadLimit
        );
        assert_eq!(
            k("432 4.3.2 Service not available", Src::Smtp),
            StatusKind::Plain
        );
        assert_eq!(
            k("550 4.4.7 QUEUE.Expired; message expired", Src::Queue),
            StatusKind::Expired
        );
        assert_eq!(
            k("550 5.4.300 Message expired", Src::Queue),
            StatusKind::Expired
        );
        assert_eq!(
            k("452 4.3.1 Insufficient system resources", Src::Smtp),
            StatusKind::Resources
        );
        assert_eq!(k("250 2.1.5 Recipient OK", Src::Smtp), StatusKind::Plain);
        assert_eq!(k("To", Src::Smtp), StatusKind::Plain);
        // Variants of the texts that the fixtures do not hold land by their code.
        for (status, src, want) in [
            (
                "554 5.4.6 Routing loop detected",
                Src::Routing,
                StatusKind::HopCount,
            ),
            ("550 5.4.14 loop", Src::Smtp, StatusKind::HopCount),
            (
                "550 5.7.128 policy says no",
                Src::Agent,
                StatusKind::RuleLoop,
            ),
            (
                "452 5.2.122 too many this hour",
                Src::Smtp,
                StatusKind::ReceiveLimit,
            ),
            ("550 5.1.90 daily limit", Src::Smtp, StatusKind::SendLimit),
            (
                "550 5.7.501 spam detected",
                Src::Smtp,
                StatusKind::SendLimit,
            ),
            ("550 4.4.7 expired", Src::Queue, StatusKind::Expired),
            ("550 5.4.300 gone", Src::Queue, StatusKind::Expired),
            ("452 4.3.1 out of disk", Src::Smtp, StatusKind::Resources),
        ] {
            assert_eq!(k(status, src), want, "{status}");
        }
    }

    #[test]
    fn subjects_in_several_languages() {
        assert_ne!(subject_flags("Undeliverable: hello") & flag::NDR_SUBJECT, 0);
        assert_ne!(subject_flags("Unzustellbar: Hallo") & flag::NDR_SUBJECT, 0);
        assert_ne!(
            subject_flags("Abwesenheitsnotiz: Hallo") & flag::AUTO_SUBJECT,
            0
        );
        assert_ne!(
            subject_flags("Réponse automatique : Bonjour") & flag::AUTO_SUBJECT,
            0
        );
        assert_ne!(
            subject_flags("Automatikus válasz: Szia") & flag::AUTO_SUBJECT,
            0
        );
        let f = subject_flags("Re: Automatic reply: Re: [Ticket #4711] printer");
        assert_ne!(f & flag::REPLY_SUBJECT, 0);
        assert_ne!(f & flag::AUTO_INSIDE, 0);
        assert_eq!(f & flag::AUTO_SUBJECT, 0);
        assert_ne!(
            subject_flags("Your mailbox is full") & flag::QUOTA_SUBJECT,
            0
        );
        assert_eq!(subject_flags("Lunch on Friday?"), 0);
        assert_eq!(
            base_subject("Re: Automatic reply: RE: AW: [Ticket #4711] printer"),
            "[Ticket #4711] printer"
        );
        assert_eq!(base_subject("Abwesenheitsnotiz: Re: x"), "x");
        assert_eq!(
            ndr_original_subject("Undeliverable: Re: Lunch"),
            Some("Re: Lunch")
        );
        assert_eq!(ndr_original_subject("Unzustellbar: Hallo"), Some("Hallo"));
        assert_eq!(ndr_original_subject("Lunch"), None);
    }

    #[test]
    fn addresses() {
        assert!(is_system_sender(
            "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@corp.example"
        ));
        assert!(is_system_sender("postmaster@corp.example"));
        assert!(is_probe_address(
            "healthmailbox0123456789abcdef0123456789abcdef@corp.example"
        ));
        assert!(!is_probe_address("anna@corp.example"));
    }
}
