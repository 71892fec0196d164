//! `wacast optout add|remove|import|check|list`: the opt-out list, numbers read as `enqueue`
//! reads them (E.164 with a fast path; national numbers with `--region`); `list` prints it with
//! each number's source, streamed in batches.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;
use wacast_shared::phone::{PhoneNumber, Region};
use wacast_shared::queue::{Optout, OptoutSource, Queue};

use crate::cli::{Format, GlobalArgs, OptoutArgs, OptoutCommand};
use crate::cmd::{connect, output};
use crate::ingest::normalise::Normaliser;

/// Numbers per SADD when importing a file.
const IMPORT_CHUNK: usize = 1000;

/// Numbers asked for per SSCAN when listing.
const LIST_CHUNK: usize = 1000;

/// Invalid lines of an import shown on stderr; the count covers the rest.
const SHOWN_INVALID: usize = 5;

pub(crate) async fn run(global: &GlobalArgs, args: &OptoutArgs) -> anyhow::Result<ExitCode> {
    let region = args
        .region
        .as_deref()
        .map(str::parse::<Region>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--region: {e}"))?;
    let mut normaliser = Normaliser::new(region);
    match &args.command {
        OptoutCommand::Add { numbers } => {
            let numbers = parse_all(&mut normaliser, numbers, "added")?;
            let queue = connect::connect(global).await?;
            let added = queue.add_optouts(&numbers, OptoutSource::Manual).await?;
            let already = numbers.len() as u64 - added;
            summary(
                global,
                &queue,
                json!({"added": added, "already_on_list": already}),
                &format!("{added} numbers added to the opt-out list ({already} were on it)"),
            )
            .await
        }
        OptoutCommand::Remove { numbers } => {
            let numbers = parse_all(&mut normaliser, numbers, "removed")?;
            let queue = connect::connect(global).await?;
            let removed = queue.remove_optouts(&numbers).await?;
            let absent = numbers.len() as u64 - removed;
            summary(
                global,
                &queue,
                json!({"removed": removed, "not_on_list": absent}),
                &format!(
                    "{removed} numbers removed from the opt-out list ({absent} were not on it)"
                ),
            )
            .await
        }
        OptoutCommand::Import { file } => import(global, &mut normaliser, file).await,
        OptoutCommand::List => list(global).await,
        OptoutCommand::Check { number } => {
            let number = normaliser
                .parse(number)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let queue = connect::connect(global).await?;
            let listed = queue.is_opted_out(&number).await?;
            match global.format {
                Format::Json => output::print_json(&json!({
                    "number": number.digits(),
                    "opted_out": listed,
                }))?,
                Format::Text => output::print(&format!(
                    "+{} is {}on the opt-out list\n",
                    number.digits(),
                    if listed { "" } else { "not " }
                ))?,
            }
            Ok(if listed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// Prints the list a batch at a time: a header and aligned lines, or one JSON object per line.
async fn list(global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let queue = connect::connect(global).await?;
    if global.format == Format::Text {
        output::print(&format!(
            "{:<16}  {:<7}  {:<19}  {:<32}  {:>7}\n",
            "NUMBER", "SOURCE", "AT (UTC)", "CAMPAIGN", "ROW"
        ))?;
    }
    // SSCAN may return a number twice while the set grows; a list of numbers is small enough
    // to remember (tens of bytes each) so that each is printed once.
    let mut seen = HashSet::new();
    let mut cursor = 0;
    loop {
        let page = queue.scan_optouts(cursor, LIST_CHUNK).await?;
        let mut out = String::new();
        for optout in page.optouts {
            if seen.insert(optout.number.clone()) {
                out.push_str(&optout_line(&optout, global.format));
            }
        }
        output::print(&out)?;
        cursor = page.cursor;
        if cursor == 0 {
            break;
        }
    }
    if !global.quiet && global.format == Format::Text {
        eprintln!("{} numbers on the opt-out list", seen.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// One number of `optout list`, with its newline.
fn optout_line(optout: &Optout, format: Format) -> String {
    match format {
        Format::Json => format!(
            "{}\n",
            json!({
                "number": optout.number,
                "source": optout.source,
                "at": output::time_json(optout.at),
                "campaign": optout.campaign,
                "row": optout.row,
            })
        ),
        Format::Text => format!(
            "{:<16}  {:<7}  {:<19}  {:<32}  {:>7}\n",
            format!("+{}", optout.number),
            optout.source.as_deref().unwrap_or("-"),
            optout
                .at
                .map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
            optout.campaign.as_deref().unwrap_or("-"),
            optout.row.map_or_else(|| "-".into(), |r| r.to_string()),
        ),
    }
}

/// Every number, or an error naming each invalid one (then nothing is changed).
fn parse_all(
    normaliser: &mut Normaliser,
    raw: &[String],
    action: &str,
) -> anyhow::Result<Vec<PhoneNumber>> {
    let mut numbers = Vec::with_capacity(raw.len());
    let mut problems = Vec::new();
    for text in raw {
        match normaliser.parse(text) {
            Ok(number) => numbers.push(number),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if !problems.is_empty() {
        bail!("{}; nothing was {action}", problems.join("; "));
    }
    Ok(numbers)
}

async fn import(
    global: &GlobalArgs,
    normaliser: &mut Normaliser,
    path: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let queue = connect::connect(global).await?;
    let mut chunk = Vec::with_capacity(IMPORT_CHUNK);
    let (mut read, mut added, mut invalid) = (0u64, 0u64, 0u64);
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line_no = index + 1;
        let line = line.with_context(|| {
            format!(
                "cannot read line {line_no} of {} (is it UTF-8 text?)",
                path.display()
            )
        })?;
        let Some(field) = number_field(&line, line_no) else {
            continue;
        };
        read += 1;
        match normaliser.parse(field) {
            Ok(number) => chunk.push(number),
            Err(e) => {
                invalid += 1;
                if invalid as usize <= SHOWN_INVALID && !global.quiet {
                    eprintln!("line {line_no}: {e}");
                }
            }
        }
        if chunk.len() >= IMPORT_CHUNK {
            added += queue.add_optouts(&chunk, OptoutSource::Import).await?;
            chunk.clear();
        }
    }
    added += queue.add_optouts(&chunk, OptoutSource::Import).await?;
    if invalid as usize > SHOWN_INVALID && !global.quiet {
        eprintln!(
            "… and {} more invalid lines",
            invalid as usize - SHOWN_INVALID
        );
    }
    let valid = read - invalid;
    summary(
        global,
        &queue,
        json!({
            "numbers_read": read,
            "added": added,
            "already_on_list": valid - added,
            "invalid": invalid,
        }),
        &format!(
            "{read} numbers read from {}: {added} added, {} were on the list, {invalid} invalid \
             (skipped)",
            path.display(),
            valid - added
        ),
    )
    .await?;
    Ok(if invalid > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The number on a line of an import file, or `None` for a line to skip: blank, a `#`
/// comment, or a header on the first line (no digit in it). Of a CSV line, the first field.
fn number_field(line: &str, line_no: usize) -> Option<&str> {
    let line = if line_no == 1 {
        line.trim_start_matches('\u{feff}')
    } else {
        line
    };
    let field = line
        .split([',', ';', '\t'])
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches('"')
        .trim();
    if field.is_empty() || field.starts_with('#') {
        return None;
    }
    if line_no == 1 && !field.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(field)
}

async fn summary(
    global: &GlobalArgs,
    queue: &Queue,
    mut fields: serde_json::Value,
    text: &str,
) -> anyhow::Result<ExitCode> {
    let on_list = queue.optout_count().await?;
    match global.format {
        Format::Json => {
            fields["on_list"] = on_list.into();
            output::print_json(&fields)?;
        }
        Format::Text => output::print(&format!("{text}; {on_list} on the list now\n"))?,
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_lines_skip_headers_comments_and_take_the_first_field() {
        let check = |line: &str, line_no: usize, expect: Option<&str>| {
            assert_eq!(number_field(line, line_no), expect, "{line:?}");
        };
        check("phone", 1, None);
        check("\u{feff}phone,name", 1, None);
        check("+4915123456789", 1, Some("+4915123456789"));
        check("\"+49 151 2345678\";Anna", 2, Some("+49 151 2345678"));
        check("  ", 3, None);
        check("# unsubscribed in May", 4, None);
        check("0151 23456789\tx", 5, Some("0151 23456789"));
        // Past the first line, text without digits is an invalid number, not a header.
        check("phone", 6, Some("phone"));
    }
}
