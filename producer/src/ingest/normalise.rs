//! Raw phone text → [`PhoneNumber`], fast enough for a million rows.
//!
//! [`PhoneNumber::parse`] (on the `phonenumber` crate) costs about 8 µs a number: the crate keeps
//! its regexes behind one mutex-guarded LRU cache keyed by the pattern's text, which it hashes on
//! every match, formats E.164 through its national formatting rules, and caps the cache at 100
//! patterns, so a file with many countries recompiles patterns over and over. At 200,000 rows a
//! second that alone would take more than the whole budget.
//!
//! Most files already carry international numbers (`+4915123456789`, `004915123456789`, or bare
//! `4915123456789` when no `--region` is given). For those, [`Normaliser`] runs the crate's own
//! parse and validity checks (`parser::parse` with no region, then `validator::is_valid`) on its
//! own compiled copies of the same metadata patterns, and the E.164 form is the input itself. It
//! answers only where those checks cannot rewrite the number; everything else (national numbers,
//! separators, a national prefix after the country code, Italian leading zeros, unknown country
//! codes) goes to [`PhoneNumber::parse`]. The `fast_path_agrees_with_the_library` test compares
//! both on every region's example numbers and their mutations.

use std::collections::HashMap;

use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use regex::{Regex, RegexBuilder};
use wacast_shared::phone::{PhoneError, PhoneNumber, Region};

/// libphonenumber's bounds on a national significant number and a country code.
const MIN_NSN: usize = 2;
const MAX_NSN: usize = 17;
const MAX_COUNTRY_CODE_DIGITS: usize = 3;

/// Parses phone numbers the way [`PhoneNumber::parse`] does, with a fast path for E.164 input.
pub(crate) struct Normaliser {
    region: Option<Region>,
    /// Compiled rules per country calling code, built on first use.
    codes: HashMap<u16, Option<CodeRules>>,
}

impl Normaliser {
    pub(crate) fn new(region: Option<Region>) -> Self {
        Normaliser {
            region,
            codes: HashMap::new(),
        }
    }

    /// The same result as `PhoneNumber::parse(raw, region)`.
    pub(crate) fn parse(&mut self, raw: &str) -> Result<PhoneNumber, PhoneError> {
        let trimmed = raw.trim();
        // The same reading of the prefix as `PhoneNumber::parse`: `00` and `+` are international;
        // bare digits are international only when no region was given.
        let digits = if let Some(rest) = trimmed.strip_prefix("00") {
            Some(rest)
        } else if let Some(rest) = trimmed.strip_prefix('+') {
            Some(rest)
        } else if self.region.is_none() && trimmed.len() >= 8 {
            Some(trimmed)
        } else {
            None
        };
        if let Some(digits) = digits
            && let Some(valid) = self.fast_check(digits)
        {
            if !valid {
                return Err(PhoneError::Invalid(trimmed.to_string()));
            }
            // The E.164 digits are the input itself; `from_stored` rejects only lengths outside
            // 8..=15, which the library's parse would still accept, so those go the slow way.
            if let Ok(number) = PhoneNumber::from_stored(digits) {
                return Ok(number);
            }
        }
        PhoneNumber::parse(trimmed, self.region)
    }

    /// Whether the library would find `+{digits}` valid, or `None` when this function cannot
    /// tell without running the library's full parse.
    fn fast_check(&mut self, digits: &str) -> Option<bool> {
        if digits.len() <= MIN_NSN
            || digits.len() > MAX_NSN
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            return None;
        }
        // Country codes are prefix-free, so the first known 1-3 digit prefix is the code.
        let (code, national) = (1..=MAX_COUNTRY_CODE_DIGITS).find_map(|len| {
            let code: u16 = digits[..len].parse().ok()?;
            known_code(code).then(|| (code, &digits[len..]))
        })?;
        // A leading zero is kept as Italian-style zeros by the library: not this path's business.
        if national.len() < MIN_NSN || national.starts_with('0') {
            return None;
        }
        let rules = self
            .codes
            .entry(code)
            .or_insert_with(|| CodeRules::build(code))
            .as_ref()?;
        let Some(region) = rules.source_for(national) else {
            // No region claims the number: the library parses it and `is_valid` says no.
            return Some(false);
        };
        if region.may_strip_national_prefix(national) {
            return None;
        }
        Some(region.is_valid(national))
    }
}

fn known_code(code: u16) -> bool {
    DATABASE.region(&code).is_some()
}

/// The compiled rules of one country calling code: its regions in the library's order.
struct CodeRules {
    regions: Vec<RegionRules>,
}

impl CodeRules {
    fn build(code: u16) -> Option<CodeRules> {
        let ids = DATABASE.region(&code)?;
        let metas: Vec<&Metadata> = if ids.len() == 1 {
            // As `validator::source_for`: one region, or `001` for non-geographic codes, whose
            // metadata the library takes by code.
            if ids[0] == "001" {
                vec![*DATABASE.by_code(&code)?.first()?]
            } else {
                vec![DATABASE.by_id(ids[0])?]
            }
        } else {
            ids.iter()
                .map(|id| DATABASE.by_id(*id))
                .collect::<Option<_>>()?
        };
        let regions = metas
            .into_iter()
            .map(RegionRules::build)
            .collect::<Option<_>>()?;
        Some(CodeRules { regions })
    }

    /// `validator::source_for`: the only region of the code, or the first whose leading digits
    /// match (or, lacking a leading-digits pattern, whose number types accept the number).
    fn source_for(&self, national: &str) -> Option<&RegionRules> {
        if let [only] = self.regions.as_slice() {
            return Some(only);
        }
        self.regions.iter().find(|r| match &r.leading_digits {
            Some(re) => re.is_match(national),
            None => r.is_valid(national),
        })
    }
}

/// One region's patterns, compiled once, anchored at the start as the library's `find(..)` with
/// `start() == 0` checks them (it does not anchor the end; neither do we).
struct RegionRules {
    leading_digits: Option<Regex>,
    national_prefix: Option<String>,
    national_prefix_for_parsing: Option<Regex>,
    general: Pattern,
    /// Per national number length, one regex that is the alternation of every number type
    /// (premium rate, toll free, …, fixed line, mobile) whose possible lengths include it; `None`
    /// when no type allows that length.
    types_by_len: Vec<Option<Regex>>,
}

struct Pattern {
    possible_lengths: Vec<u16>,
    regex: Regex,
}

impl RegionRules {
    fn build(meta: &Metadata) -> Option<RegionRules> {
        let d = meta.descriptors();
        // The types `validator::number_type` tries; any match makes a number valid.
        let types: Vec<&Descriptor> = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut by_set: HashMap<Vec<usize>, Regex> = HashMap::new();
        let mut types_by_len = Vec::with_capacity(MAX_NSN + 1);
        for len in 0..=MAX_NSN {
            let set: Vec<usize> = (0..types.len())
                .filter(|&i| allows_len(types[i].possible_length(), len))
                .collect();
            if set.is_empty() {
                types_by_len.push(None);
                continue;
            }
            let regex = match by_set.get(&set) {
                Some(re) => re.clone(),
                None => {
                    let sources: Vec<&str> = set
                        .iter()
                        .map(|&i| types[i].national_number().as_str())
                        .collect();
                    let re = anchored(&sources)?;
                    by_set.insert(set, re.clone());
                    re
                }
            };
            types_by_len.push(Some(regex));
        }
        let general = d.general();
        Some(RegionRules {
            leading_digits: match meta.leading_digits() {
                Some(re) => Some(anchored(&[re.as_str()])?),
                None => None,
            },
            national_prefix: meta.national_prefix().map(str::to_string),
            national_prefix_for_parsing: match meta.national_prefix_for_parsing() {
                Some(re) => Some(anchored(&[re.as_str()])?),
                None => None,
            },
            general: Pattern {
                possible_lengths: general.possible_length().to_vec(),
                regex: anchored(&[general.national_number().as_str()])?,
            },
            types_by_len,
        })
    }

    /// `validator::number_type(..) != Type::Unknown`: the general pattern and at least one type.
    fn is_valid(&self, national: &str) -> bool {
        let len = national.len();
        allows_len(&self.general.possible_lengths, len)
            && self.general.regex.is_match(national)
            && self
                .types_by_len
                .get(len)
                .and_then(Option::as_ref)
                .is_some_and(|re| re.is_match(national))
    }

    /// Whether the library's parse might strip a national prefix (or carrier code) from the
    /// number (`helper::national_number`, then its second `national_prefix` check).
    fn may_strip_national_prefix(&self, national: &str) -> bool {
        let by_pattern = self
            .national_prefix_for_parsing
            .as_ref()
            .is_some_and(|re| re.is_match(national));
        let by_prefix = self
            .national_prefix
            .as_deref()
            .is_some_and(|p| national.starts_with(p));
        by_pattern || by_prefix
    }
}

/// `Descriptor::is_match`'s length rule: no list means any length.
fn allows_len(possible: &[u16], len: usize) -> bool {
    possible.is_empty() || possible.iter().any(|&p| usize::from(p) == len)
}

/// The alternation of `sources`, anchored at the start, compiled as the library compiles them
/// (`ignore_whitespace`). Each source ends on its own line so that a `#` comment in verbose
/// mode could not swallow our closing parenthesis.
///
/// Unicode is off: this path only ever matches ASCII digits, for which `\d` means the same
/// either way, and the ASCII automata are a fraction of the size (megabytes per region
/// otherwise). A pattern that needs Unicode fails to build, and its code takes the slow path.
fn anchored(sources: &[&str]) -> Option<Regex> {
    let alternatives: Vec<String> = sources.iter().map(|s| format!("(?:{s}\n)")).collect();
    RegexBuilder::new(&format!("^(?:{}\n)", alternatives.join("|")))
        .ignore_whitespace(true)
        .unicode(false)
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, region: Option<&str>) {
        let region = region.map(|r| r.parse::<Region>().unwrap());
        let expect = PhoneNumber::parse(raw, region);
        let got = Normaliser::new(region).parse(raw);
        assert_eq!(got, expect, "{raw:?} with region {region:?}");
    }

    #[test]
    fn reads_numbers_as_the_shared_parser_does() {
        for raw in [
            "+4915123456789",
            "004915123456789",
            "4915123456789",
            "+49 151 23456789",
            "+491512345",
            "+39 0236618300",
            "+390236618300",
            "+16502530000",
            "+12530000",
            "+4407911123456",
            "+447911123456",
            "+80012345678",
            "+999123456789",
            "+",
            "+12",
            "+0049151",
            "",
            "   +4915123456789  ",
        ] {
            check(raw, None);
            check(raw, Some("DE"));
        }
        check("015123456789", Some("DE"));
        check("4915123456789", Some("DE"));
    }

    /// Every region's example numbers, written as E.164, with a digit dropped, added or changed:
    /// the fast path must agree with the library wherever it answers.
    #[test]
    fn fast_path_agrees_with_the_library() {
        let mut normaliser = Normaliser::new(None);
        let mut n_fast = 0;
        let mut n_checked = 0;
        for meta in DATABASE.iter() {
            let d = meta.descriptors();
            let examples = [d.general()]
                .into_iter()
                .chain(
                    [
                        d.mobile(),
                        d.fixed_line(),
                        d.toll_free(),
                        d.premium_rate(),
                        d.voip(),
                    ]
                    .into_iter()
                    .flatten(),
                )
                .filter_map(Descriptor::example);
            for example in examples {
                let base = format!("{}{example}", meta.country_code());
                let mut variants = vec![
                    base.clone(),
                    format!("{base}7"),
                    base[..base.len() - 1].to_string(),
                ];
                for i in (1..base.len()).step_by(3) {
                    let mut changed = base.clone().into_bytes();
                    changed[i] = b'0' + (changed[i] - b'0' + 5) % 10;
                    variants.push(String::from_utf8(changed).unwrap());
                }
                for digits in variants {
                    let raw = format!("+{digits}");
                    n_checked += 1;
                    if normaliser.fast_check(&digits).is_some() {
                        n_fast += 1;
                    }
                    assert_eq!(
                        normaliser.parse(&raw),
                        PhoneNumber::parse(&raw, None),
                        "{raw} (region {})",
                        meta.id()
                    );
                }
            }
        }
        // The fast path must actually be taken for most numbers, or the test proves nothing.
        assert!(
            n_fast * 2 > n_checked,
            "fast path answered {n_fast} of {n_checked}"
        );
    }

    /// Random digits behind real country codes: mostly invalid numbers, where a fast path that
    /// is too lenient or too strict would show.
    #[test]
    fn fast_path_agrees_with_the_library_on_random_numbers() {
        let codes: Vec<u16> = (1..1000).filter(|&c| known_code(c)).collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            // xorshift64: deterministic, so a failure reproduces.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut normaliser = Normaliser::new(None);
        let mut n_fast = 0;
        for _ in 0..1500 {
            let code = codes[(next() % codes.len() as u64) as usize];
            let len = 4 + (next() % 10) as usize;
            let national: String = (0..len)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            let raw = format!("+{code}{national}");
            if normaliser.fast_check(&raw[1..]).is_some() {
                n_fast += 1;
            }
            assert_eq!(
                normaliser.parse(&raw),
                PhoneNumber::parse(&raw, None),
                "{raw}"
            );
        }
        assert!(n_fast > 750, "fast path answered {n_fast} of 1500");
    }
}
