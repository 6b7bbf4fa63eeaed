//! The check language of the data-driven tests (`tests/scenarios/*.toml` against the findings,
//! `tests/fixtures/formats-expected/*.toml` against the frames and the inventory). Its full
//! description is at the top of `tests/scenarios.rs`; in short, a check is
//!
//! ```toml
//! [[check]]
//! path = "storms[kind=pair,sender={truth.flood_sender}]"   # what it looks at
//! count = 1                          # optional: how many values the path selects
//! each = false                       # optional: allow any number, check every one
//! value = { contains = "..." }       # optional: the selected value itself
//! why = "..."                        # optional: said when the check fails
//! [check.fields]                     # optional: values under the selected one
//! recipient = "{truth.flood_recipient}"
//! first_seen = { near = "{truth.flood_onset}", within_ms = 60000 }
//! ```
//!
//! Everything a case file says is validated (unknown keys, operators without their partner,
//! checks that assert nothing): a typo fails the case instead of passing silently.

use serde::Deserialize;
use serde_json::Value;

/// One `[[check]]` of a case file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub path: String,
    #[serde(default)]
    pub count: Option<toml::Value>,
    #[serde(default)]
    pub each: bool,
    #[serde(default)]
    pub value: Option<toml::Value>,
    #[serde(default)]
    pub fields: Option<toml::Table>,
    #[serde(default)]
    pub why: Option<String>,
}

/// What checks are evaluated against: paths start at `main`; `{name.path}` references look into
/// the named roots (`truth`, `findings`, ...).
pub struct Doc<'a> {
    pub main: &'a Value,
    pub roots: Vec<(&'static str, &'a Value)>,
}

/// The comparison operators; a table holding any of them is an operator table.
const OPS: &[&str] = &[
    "null",
    "at_least",
    "at_most",
    "near",
    "within_ms",
    "contains",
    "not_contains",
    "one_of",
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ops {
    null: Option<bool>,
    at_least: Option<toml::Value>,
    at_most: Option<toml::Value>,
    near: Option<String>,
    within_ms: Option<i64>,
    contains: Option<String>,
    not_contains: Option<String>,
    one_of: Option<toml::Value>,
}

#[derive(Debug)]
enum Expect {
    /// A plain value: equal to it (numbers compare as numbers).
    Equal(toml::Value),
    Ops(Ops),
}

impl Expect {
    fn parse(v: &toml::Value) -> Result<Expect, String> {
        let toml::Value::Table(t) = v else {
            return Ok(Expect::Equal(v.clone()));
        };
        let unknown: Vec<&str> = t
            .keys()
            .map(String::as_str)
            .filter(|k| !OPS.contains(k))
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "unknown operator(s) {unknown:?}; operators are {OPS:?}"
            ));
        }
        let ops: Ops = v
            .clone()
            .try_into()
            .map_err(|e| format!("bad operator table {v:?}: {e}"))?;
        if ops.near.is_some() != ops.within_ms.is_some() {
            return Err("`near` and `within_ms` go together".into());
        }
        Ok(Expect::Ops(ops))
    }
}

/// A step of a path.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    All,
    Index(usize),
    Filter(Vec<Cond>),
}

#[derive(Debug, Clone)]
struct Cond {
    key: String,
    negate: bool,
    /// The text the element's value must (or must not) have.
    value: String,
}

impl Step {
    fn is_selector(&self) -> bool {
        !matches!(self, Step::Key(_))
    }
}

struct Parser<'s, 'd> {
    s: &'s [u8],
    text: &'s str,
    i: usize,
    doc: &'d Doc<'d>,
}

impl Parser<'_, '_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn err(&self, what: &str) -> String {
        format!("path `{}`: {what} at offset {}", self.text, self.i)
    }

    fn path(&mut self) -> Result<Vec<Step>, String> {
        let mut steps = Vec::new();
        loop {
            steps.push(Step::Key(self.key()?));
            while self.peek() == Some(b'[') {
                steps.push(self.selector()?);
            }
            match self.peek() {
                None => return Ok(steps),
                Some(b'.') => self.i += 1,
                Some(_) => return Err(self.err("expected `.`, `[` or the end")),
            }
        }
    }

    /// A key: a run of characters other than `.[]'=,!{}` and blanks, or a 'quoted' key.
    fn key(&mut self) -> Result<String, String> {
        if self.peek() == Some(b'\'') {
            return self.quoted();
        }
        let start = self.i;
        while let Some(c) = self.peek() {
            if b".[]'=,!{} \t".contains(&c) {
                break;
            }
            self.i += 1;
        }
        if self.i == start {
            return Err(self.err("expected a key"));
        }
        Ok(self.text[start..self.i].to_string())
    }

    fn quoted(&mut self) -> Result<String, String> {
        self.i += 1;
        let start = self.i;
        while self.peek().is_some_and(|c| c != b'\'') {
            self.i += 1;
        }
        if self.peek().is_none() {
            return Err(self.err("unclosed quote"));
        }
        let s = self.text[start..self.i].to_string();
        self.i += 1;
        Ok(s)
    }

    fn selector(&mut self) -> Result<Step, String> {
        self.i += 1;
        let step = if self.peek() == Some(b'*') {
            self.i += 1;
            Step::All
        } else if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            let start = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
            Step::Index(
                self.text[start..self.i]
                    .parse()
                    .map_err(|e| self.err(&format!("bad index: {e}")))?,
            )
        } else {
            let mut conds = Vec::new();
            loop {
                let key = self.key()?;
                let negate = self.peek() == Some(b'!');
                if negate {
                    self.i += 1;
                }
                if self.peek() != Some(b'=') {
                    return Err(self.err("expected `=` or `!=`"));
                }
                self.i += 1;
                let value = self.cond_value()?;
                conds.push(Cond { key, negate, value });
                if self.peek() == Some(b',') {
                    self.i += 1;
                } else {
                    break;
                }
            }
            Step::Filter(conds)
        };
        if self.peek() != Some(b']') {
            return Err(self.err("expected `]`"));
        }
        self.i += 1;
        Ok(step)
    }

    /// A filter value: 'quoted', a `{reference}`, or the text up to `,` or `]`.
    fn cond_value(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(b'\'') => self.quoted(),
            Some(b'{') => {
                let start = self.i + 1;
                while self.peek().is_some_and(|c| c != b'}') {
                    self.i += 1;
                }
                if self.peek().is_none() {
                    return Err(self.err("unclosed `{`"));
                }
                let r = &self.text[start..self.i];
                self.i += 1;
                Ok(text_of(&resolve_ref(r, self.doc)?))
            }
            _ => {
                let start = self.i;
                while self.peek().is_some_and(|c| c != b',' && c != b']') {
                    self.i += 1;
                }
                Ok(self.text[start..self.i].to_string())
            }
        }
    }
}

fn parse_path(text: &str, doc: &Doc) -> Result<Vec<Step>, String> {
    Parser {
        s: text.as_bytes(),
        text,
        i: 0,
        doc,
    }
    .path()
}

/// The text a filter compares: strings as they are, everything else as JSON.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The values a path selects. A missing key or a selector on a non-list is an error (a wrong
/// path must not look like an empty selection); a filter or index that matches nothing is not.
fn select<'v>(from: &'v Value, steps: &[Step], path: &str) -> Result<Vec<&'v Value>, String> {
    let mut cur = vec![from];
    for step in steps {
        let mut next = Vec::new();
        for v in cur {
            match step {
                Step::Key(k) => match v {
                    Value::Object(m) => match m.get(k) {
                        Some(x) => next.push(x),
                        None => {
                            let keys: Vec<&String> = m.keys().collect();
                            return Err(format!("`{path}`: no key `{k}` (keys there: {keys:?})"));
                        }
                    },
                    other => {
                        return Err(format!(
                            "`{path}`: key `{k}` asked of a non-object: {}",
                            brief(other)
                        ))
                    }
                },
                _ => {
                    let Value::Array(items) = v else {
                        return Err(format!(
                            "`{path}`: a selector applied to a non-list: {}",
                            brief(v)
                        ));
                    };
                    match step {
                        Step::All => next.extend(items.iter()),
                        Step::Index(i) => next.extend(items.get(*i)),
                        Step::Filter(conds) => {
                            for (n, item) in items.iter().enumerate() {
                                if matches(item, conds, n, path)? {
                                    next.push(item);
                                }
                            }
                        }
                        Step::Key(_) => unreachable!("handled above"),
                    }
                }
            }
        }
        cur = next;
    }
    Ok(cur)
}

fn matches(item: &Value, conds: &[Cond], n: usize, path: &str) -> Result<bool, String> {
    for c in conds {
        let Some(v) = item.get(&c.key) else {
            return Err(format!("`{path}`: element {n} has no key `{}`", c.key));
        };
        if (text_of(v) == c.value) == c.negate {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `root.path` → the one value it names.
fn resolve_ref(r: &str, doc: &Doc) -> Result<Value, String> {
    let steps = parse_path(r, doc)?;
    let Some(Step::Key(root)) = steps.first() else {
        return Err(format!("reference `{{{r}}}` names no root"));
    };
    let Some((_, v)) = doc.roots.iter().find(|(n, _)| n == root) else {
        let names: Vec<&str> = doc.roots.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "reference `{{{r}}}`: unknown root `{root}` (known: {names:?})"
        ));
    };
    let found = select(v, &steps[1..], r)?;
    match found.as_slice() {
        // A null truth is a case written for another scenario: never compare with it.
        [Value::Null] => Err(format!("reference `{{{r}}}` is null")),
        [one] => Ok((*one).clone()),
        _ => Err(format!(
            "reference `{{{r}}}` selects {} values, not one",
            found.len()
        )),
    }
}

/// Start and end (exclusive) of the next reference in `s` at or after `from`: a `{` followed by
/// a lower-case name and `.`, `[` or `}`. Other braces are plain text.
fn next_ref(s: &str, from: usize) -> Option<(usize, usize)> {
    let mut at = from;
    while let Some(k) = s[at..].find('{') {
        let start = at + k;
        let rest = &s[start + 1..];
        let name = rest
            .bytes()
            .take_while(|c| c.is_ascii_lowercase() || *c == b'_')
            .count();
        if name > 0 && rest[name..].starts_with(['.', '[', '}']) {
            if let Some(e) = rest.find('}') {
                return Some((start, start + 1 + e + 1));
            }
        }
        at = start + 1;
    }
    None
}

/// A case file's value as JSON, references resolved: a string that is one reference becomes the
/// referenced value; references inside longer strings are replaced by their text.
fn resolve(v: &toml::Value, doc: &Doc) -> Result<Value, String> {
    Ok(match v {
        toml::Value::String(s) => {
            let mut out = String::new();
            let mut at = 0;
            let mut whole = None;
            while let Some((a, b)) = next_ref(s, at) {
                let r = resolve_ref(&s[a + 1..b - 1], doc)?;
                if a == 0 && b == s.len() {
                    whole = Some(r);
                    break;
                }
                out.push_str(&s[at..a]);
                out.push_str(&text_of(&r));
                at = b;
            }
            match whole {
                Some(r) => r,
                None => {
                    out.push_str(&s[at..]);
                    Value::String(out)
                }
            }
        }
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| resolve(x, doc))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Datetime(d) => {
            return Err(format!("write the time {d} as a quoted string"));
        }
        toml::Value::Table(t) => {
            return Err(format!("a table where a value was expected: {t:?}"));
        }
    })
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        _ => a == b,
    }
}

fn ms_of(v: &Value) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// A value for a message, cut short.
fn brief(v: &Value) -> String {
    brief_n(v, 300)
}

fn brief_n(v: &Value, n: usize) -> String {
    let s = v.to_string();
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

fn number(v: &toml::Value, doc: &Doc, op: &str) -> Result<f64, String> {
    let r = resolve(v, doc)?;
    r.as_f64()
        .ok_or_else(|| format!("`{op}` needs a number, got {}", brief(&r)))
}

/// Compares `actual` with what the case expects; `Err` says how it differs.
fn compare(actual: &Value, expect: &Expect, doc: &Doc) -> Result<(), String> {
    let ops = match expect {
        Expect::Equal(v) => {
            let want = resolve(v, doc)?;
            return if json_eq(actual, &want) {
                Ok(())
            } else {
                Err(format!(
                    "expected {}, found {}",
                    brief(&want),
                    brief(actual)
                ))
            };
        }
        Expect::Ops(o) => o,
    };
    let mut bad = Vec::new();
    if let Some(n) = ops.null {
        if actual.is_null() != n {
            bad.push(format!(
                "expected {}null, found {}",
                if n { "" } else { "not " },
                brief(actual)
            ));
        }
    }
    for (op, bound, least) in [
        ("at_least", &ops.at_least, true),
        ("at_most", &ops.at_most, false),
    ] {
        let Some(bound) = bound else { continue };
        let b = number(bound, doc, op)?;
        match actual.as_f64() {
            Some(a) if (least && a >= b) || (!least && a <= b) => {}
            _ => bad.push(format!(
                "expected {} {b}, found {}",
                op.replace('_', " "),
                brief(actual)
            )),
        }
    }
    if let (Some(near), Some(within)) = (&ops.near, ops.within_ms) {
        let want = resolve(&toml::Value::String(near.clone()), doc)?;
        let w = ms_of(&want).ok_or_else(|| format!("`near` {} is not a time", brief(&want)))?;
        match ms_of(actual) {
            Some(a) if (a - w).abs() <= within => {}
            Some(a) => bad.push(format!(
                "expected within {within} ms of {}, found {} ({} ms off)",
                brief(&want),
                brief(actual),
                a - w
            )),
            None => bad.push(format!("expected a time, found {}", brief(actual))),
        }
    }
    for (op, text, want) in [
        ("contains", &ops.contains, true),
        ("not_contains", &ops.not_contains, false),
    ] {
        let Some(text) = text else { continue };
        let t = text_of(&resolve(&toml::Value::String(text.clone()), doc)?);
        let has = match actual {
            Value::String(s) => s.contains(&t),
            Value::Array(items) => items.iter().any(|x| match x {
                Value::String(s) => s.contains(&t),
                other => text_of(other) == t,
            }),
            other => {
                bad.push(format!(
                    "`{op}` needs a string or a list, found {}",
                    brief(other)
                ));
                continue;
            }
        };
        if has != want {
            bad.push(format!(
                "expected {} {t:?}, found {}",
                if want { "to contain" } else { "not to contain" },
                brief(actual)
            ));
        }
    }
    if let Some(list) = &ops.one_of {
        let l = resolve(list, doc)?;
        let Value::Array(items) = &l else {
            return Err(format!("`one_of` needs a list, got {}", brief(&l)));
        };
        if !items.iter().any(|x| json_eq(x, actual)) {
            bad.push(format!(
                "expected one of {}, found {}",
                brief(&l),
                brief(actual)
            ));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("; "))
    }
}

/// `fields` flattened to (path text, expectation): nested tables that hold no operator are
/// field names (`during.messages = 3` in TOML is `{during = {messages = 3}}`).
fn flatten(prefix: &str, t: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in t {
        let key = if k
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
            || k.contains('[')
        {
            k.clone()
        } else {
            // `"5.2.2"` in TOML is one key: keep it one.
            format!("'{k}'")
        };
        let path = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        match v {
            toml::Value::Table(inner) if !inner.keys().any(|x| OPS.contains(&x.as_str())) => {
                flatten(&path, inner, out)
            }
            _ => out.push((path, v.clone())),
        }
    }
}

/// Runs every check; returns one line per failed check (empty: all passed).
pub fn run(checks: &[Check], doc: &Doc) -> Vec<String> {
    let mut failures = Vec::new();
    for (n, c) in checks.iter().enumerate() {
        let label = match &c.why {
            Some(w) => format!("check {} `{}` ({w})", n + 1, c.path),
            None => format!("check {} `{}`", n + 1, c.path),
        };
        if let Err(e) = run_one(c, doc) {
            failures.push(format!("{label}: {e}"));
        }
    }
    failures
}

fn run_one(c: &Check, doc: &Doc) -> Result<(), String> {
    let steps = parse_path(&c.path, doc)?;
    let fields = {
        let mut v = Vec::new();
        if let Some(t) = &c.fields {
            flatten("", t, &mut v);
        }
        v.into_iter()
            .map(|(p, e)| Ok((parse_path(&p, doc)?, Expect::parse(&e)?, p)))
            .collect::<Result<Vec<_>, String>>()?
    };
    let value = c.value.as_ref().map(Expect::parse).transpose()?;
    let count = c.count.as_ref().map(Expect::parse).transpose()?;
    if c.each && value.is_none() && fields.is_empty() && count.is_none() {
        return Err("`each` with nothing to check on each value".into());
    }
    let found = select(doc.main, &steps, &c.path)?;
    let mut bad = Vec::new();
    if let Some(count) = &count {
        if !steps.last().is_some_and(Step::is_selector) {
            return Err("`count` needs a path ending in a selector (`[*]`, `[0]`, `[k=v]`)".into());
        }
        if let Err(e) = compare(&Value::from(found.len()), count, doc) {
            let shown: Vec<String> = found.iter().take(3).map(|v| brief_n(v, 120)).collect();
            bad.push(format!("count: {e}; selected: {shown:?}"));
        }
    } else if !c.each && found.len() != 1 {
        return Err(format!(
            "selects {} values, expected exactly one{}",
            found.len(),
            match found.first() {
                Some(v) => format!(" (first: {})", brief(v)),
                None => String::new(),
            }
        ));
    }
    for (i, v) in found.iter().enumerate() {
        let at = if found.len() > 1 {
            format!("[{i}] ")
        } else {
            String::new()
        };
        if let Some(e) = &value {
            if let Err(e) = compare(v, e, doc) {
                bad.push(format!("{at}value: {e}"));
            }
        }
        for (steps, e, p) in &fields {
            let got = select(v, steps, p)?;
            match got.as_slice() {
                [one] => {
                    if let Err(e) = compare(one, e, doc) {
                        bad.push(format!("{at}field `{p}`: {e}"));
                    }
                }
                _ => bad.push(format!(
                    "{at}field `{p}` selects {} values, expected one",
                    got.len()
                )),
            }
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("; "))
    }
}

/// A case file: read and parsed, or why not.
pub fn read_case<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    toml::from_str(&text).map_err(|e| format!("not a valid case file: {e}"))
}

/// The `*.toml` files of a folder, sorted, as (name, path).
pub fn case_files(dir: &std::path::Path) -> Vec<(String, std::path::PathBuf)> {
    let mut v: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| {
            let stem = p.file_stem()?.to_string_lossy().into_owned();
            Some((stem, p))
        })
        .collect();
    v.sort();
    v
}

/// The trials of a data-driven test target: one per case file in `dir` (run by `run_case`), one
/// that fails when fewer than `at_least` case files are there (a folder emptied by mistake must not
/// pass), and the target's plain tests.
pub fn trials(
    dir: &std::path::Path,
    at_least: usize,
    run_case: fn(&str, &std::path::Path) -> Result<(), libtest_mimic::Failed>,
    plain: &[(&'static str, fn())],
) -> Vec<libtest_mimic::Trial> {
    use libtest_mimic::Trial;
    let files = case_files(dir);
    let found = files.len();
    let shown = dir.display().to_string();
    let mut trials: Vec<Trial> = files
        .into_iter()
        .map(|(name, path)| {
            let n = name.clone();
            Trial::test(name, move || run_case(&n, &path))
        })
        .collect();
    trials.push(Trial::test("every_case_file_is_there", move || {
        if found >= at_least {
            Ok(())
        } else {
            Err(format!("{shown} holds {found} case files, expected at least {at_least}").into())
        }
    }));
    for &(name, f) in plain {
        trials.push(Trial::test(name, move || {
            f();
            Ok(())
        }));
    }
    trials
}

/// The failures of a case as one message naming it.
pub fn verdict(case: &str, checks: usize, failures: Vec<String>) -> Result<(), String> {
    if checks == 0 {
        return Err(format!("{case}: the case file has no [[check]]"));
    }
    if failures.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{case}: {} of {checks} checks failed:\n  - {}",
        failures.len(),
        failures.join("\n  - ")
    ))
}
