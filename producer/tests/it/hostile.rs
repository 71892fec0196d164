//! `wacast enqueue` and `wacast report` against hostile input (issue 15): numbers with letters,
//! control characters, values over WhatsApp's limits, line endings, unbalanced quotes, output
//! paths that are the input or a link, formulas, and cells of a megabyte.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use crate::ops::wacast;
use crate::support::{Env, Outcome};

const TEMPLATE: [&str; 6] = [
    "--template",
    "order_confirmation",
    "--language",
    "de",
    "--body",
    "name,order_id",
];

/// The rejects file's lines after its header.
fn rejects(env: &Env, name: &str) -> Vec<String> {
    env.read(&env.dir.path().join(name))
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

fn count(out: &Outcome, reason: &str) -> u64 {
    out.json()["rejected_by_reason"][reason]
        .as_u64()
        .unwrap_or_else(|| panic!("no count for {reason}: {out:#?}"))
}

#[tokio::test]
async fn a_number_with_letters_is_rejected_not_read_as_keypad_digits() {
    let env = Env::new().await;
    let csv = env.write(
        "letters.csv",
        "phone,name,order_id\n0176 40000ab,Anna,1\n+49 176 40000 x12,Ben,2\n0176 40000 22,Carl,3\n",
    );
    let out = env.enqueue(&csv, &[&TEMPLATE[..], &["--region", "DE"]].concat());
    assert_eq!(out.code, 1, "{out:#?}");
    assert_eq!(count(&out, "invalid_phone"), 2);
    assert_eq!(out.json()["enqueued"], 1);
    let lines = rejects(&env, "letters.rejects.csv");
    assert!(
        lines[0].starts_with(
            "2,\"phone \"\"0176 40000ab\"\" holds a letter: write the number in digits only"
        ),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("3,\"phone \"\"+49 176 40000 x12\"\" holds a letter"),
        "{lines:?}"
    );
    // The only message is row 3's own number, not a keypad reading of row 1's.
    let id = out.json()["campaign"].as_str().unwrap().to_string();
    assert!(env.message(&id, 1).await.is_empty());
    assert_eq!(env.message(&id, 3).await["to"], "491764000022");
}

#[tokio::test]
async fn control_characters_are_rejected_naming_line_and_column() {
    let env = Env::new().await;
    let csv = env.write(
        "ctl.csv",
        "phone,name,note\n\
         +4915123456701,An\0na,x\n\
         +4915123456702,Ben,\u{1b}[2J\n\
         +4915123456703,Ca\u{85}rl,x\n\
         +4915123456704,\"Dora\r\nand\tEmil\",x\n\
         +4915123456705,Fritz\u{7f},x\n",
    );
    let out = env.enqueue(&csv, &["--text", "Hello {{name}}"]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert_eq!(count(&out, "control_character"), 4);
    let lines = rejects(&env, "ctl.rejects.csv");
    let expect = [
        "2,column name holds the control character NUL: remove it",
        "3,column note holds the control character U+001B: remove it",
        "4,column name holds the control character U+0085: remove it",
        // Row 5's quoted value spans lines 5 and 6.
        "7,column name holds the control character U+007F: remove it",
    ];
    for (line, expect) in lines.iter().zip(expect) {
        assert!(
            line.starts_with(expect),
            "{line:?} should start with {expect:?}"
        );
    }
    // A line break and a tab inside a quoted text cell are text, sent as written.
    let id = out.json()["campaign"].as_str().unwrap().to_string();
    assert_eq!(env.message(&id, 4).await["p1"], "Dora\r\nand\tEmil");
}

#[tokio::test]
async fn texts_and_template_parameters_over_whatsapps_limits_are_rejected_naming_the_limit() {
    let env = Env::new().await;
    let long_name = "x".repeat(4_100);
    let csv = env.write(
        "text.csv",
        format!("phone,name\n+4915123456701,{long_name}\n+4915123456702,Ben\n"),
    );
    let out = env.enqueue(&csv, &["--text", "Hi {{name}}"]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert_eq!(count(&out, "too_long"), 1);
    let lines = rejects(&env, "text.rejects.csv");
    assert!(
        lines[0].starts_with(
            "2,\"WhatsApp would refuse the message: text has 4103 characters, more than the 4096 allowed"
        ),
        "{}",
        &lines[0][..200]
    );

    let csv = env.write(
        "tpl.csv",
        format!(
            "phone,title,name,order_id,url\n\
             +4915123456701,{},Anna,1,a\n\
             +4915123456702,Hello,{},2,b\n\
             +4915123456703,Hello,Carl,3,{}\n\
             +4915123456704,https://example.com/{},Dora,4,d\n",
            "t".repeat(61),
            "n".repeat(1_025),
            "u".repeat(2_001),
            "i".repeat(100),
        ),
    );
    let out = env.enqueue(
        &csv,
        &[&TEMPLATE[..], &["--header", "title", "--button", "url"]].concat(),
    );
    assert_eq!(out.code, 1, "{out:#?}");
    assert_eq!(count(&out, "too_long"), 3);
    let lines = rejects(&env, "tpl.rejects.csv");
    assert!(
        lines[0].starts_with(
            "2,\"column title has 61 characters, more than the 60 WhatsApp allows in a template's header\""
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with(
            "3,\"column name has 1025 characters, more than the 1024 WhatsApp allows in a template's body\""
        ),
        "{}",
        &lines[1][..120]
    );
    assert!(
        lines[2].starts_with(
            "4,\"column url has 2001 characters, more than the 2000 WhatsApp allows in a template button's URL\""
        ),
        "{}",
        &lines[2][..120]
    );
    // An image header's URL is no header text.
    assert_eq!(out.json()["enqueued"], 1);
}

#[tokio::test]
async fn line_numbers_are_the_files_whatever_its_line_endings() {
    let env = Env::new().await;
    for (name, ending) in [("lf.csv", "\n"), ("crlf.csv", "\r\n"), ("cr.csv", "\r")] {
        // Line 2 good, lines 3-5 one quoted multi-line value, line 6 empty, line 7 bad.
        let text = [
            "phone,name",
            "+4915123456701,Anna",
            "+4915123456702,\"Ben",
            "and",
            "Carl\"",
            "",
            "0151 23,Dora",
            "+4915123456703,Emil",
        ]
        .join(ending)
            + ending;
        let csv = env.write(name, text);
        let rejects_name = name.replace(".csv", ".rejects.csv");
        let out = env.enqueue(&csv, &["--text", "Hi {{name}}"]);
        assert_eq!(out.code, 1, "{name}: {out:#?}");
        assert_eq!(out.json()["enqueued"], 3, "{name}");
        let lines = rejects(&env, &rejects_name);
        assert_eq!(lines.len(), 1, "{name}: {lines:?}");
        assert!(lines[0].starts_with("7,"), "{name}: {lines:?}");
    }
}

#[tokio::test]
async fn an_unbalanced_quote_stops_naming_the_line_where_it_opened() {
    let env = Env::new().await;
    let mut text = String::from("phone,name\r\n+4915123456701,Anna\r\n+4915123456702,\"Ben\r\n");
    for i in 0..200 {
        text.push_str(&format!("+49151234{i:05},Row {i}\r\n"));
    }
    let csv = env.write("quote.csv", text);
    let out = env.enqueue(&csv, &["--text", "Hi {{name}}"]);
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stderr.contains(
            "line 3: a quoted field opens here and runs on for more than 100 lines: its closing \
             double quote is missing"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("enqueue the fixed file with --id"),
        "{}",
        out.stderr
    );
    // Near the end of the file, the quote is still open when the file ends.
    let csv = env.write(
        "end.csv",
        "phone,name\n+4915123456701,Anna\n+4915123456702,\"Ben\n+4915123456703,Carl\n",
    );
    let out = env.enqueue(&csv, &["--text", "Hi {{name}}", "--dry-run"]);
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stderr
            .contains("line 3: a quoted field opens here and is still open at the end of the file"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn the_rejects_file_is_never_the_input_nor_a_link_and_holds_no_formula() {
    let env = Env::new().await;
    let text = "phone,name\n=HYPERLINK(\"http://evil\"),x\n+49 151 23,@SUM(A1)\n";
    let csv = env.write("in.csv", text);
    for target in [
        csv.clone(),
        env.dir.path().join("sub/../in.csv"),
        env.dir.path().join("hard.csv"),
    ] {
        std::fs::create_dir_all(env.dir.path().join("sub")).unwrap();
        if target.ends_with("hard.csv") && !target.exists() {
            std::fs::hard_link(&csv, &target).unwrap();
        }
        let out = env.enqueue(
            &csv,
            &[
                "--text",
                "Hi {{name}}",
                "--rejects",
                target.to_str().unwrap(),
            ],
        );
        assert_eq!(out.code, 2, "{out:#?}");
        assert!(out.stderr.contains("is the input file"), "{}", out.stderr);
        assert_eq!(env.read(&csv), text, "the input is untouched");
    }
    // A link planted at the rejects path is neither followed nor written through.
    let victim = env.write("victim.txt", "keep");
    let link = env.dir.path().join("link.csv");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let out = env.enqueue(
        &csv,
        &["--text", "Hi {{name}}", "--rejects", link.to_str().unwrap()],
    );
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stderr.contains("is a symbolic link"), "{}", out.stderr);
    assert_eq!(env.read(&victim), "keep");

    let out = env.enqueue(&csv, &["--text", "Hi {{name}}", "--region", "DE"]);
    assert_eq!(out.code, 1, "{out:#?}");
    let written = env.read(&env.dir.path().join("in.rejects.csv"));
    assert!(
        written.contains(",\"'=HYPERLINK(\"\"http://evil\"\")\",x\n"),
        "{written}"
    );
    // A phone number stays as written; a formula after it is neutralised.
    assert!(written.contains(",+49 151 23,'@SUM(A1)\n"), "{written}");
    // No temporary file is left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn report_out_does_not_write_through_a_link() {
    let env = Env::new().await;
    let csv = env.write("r.csv", "phone,name\n+4915123456701,Anna\n");
    let out = env.enqueue(&csv, &["--text", "Hi {{name}}"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.json()["campaign"].as_str().unwrap().to_string();
    let victim = env.write("victim.txt", "keep");
    let link = env.dir.path().join("report.csv");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let out = wacast(
        &env,
        &[
            "report",
            &id,
            "--out",
            link.to_str().unwrap(),
            "--format",
            "text",
        ],
    );
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stderr.contains("is a symbolic link"), "{}", out.stderr);
    assert_eq!(env.read(&victim), "keep");
    let target = env.dir.path().join("real.csv");
    let out = wacast(
        &env,
        &[
            "report",
            &id,
            "--out",
            target.to_str().unwrap(),
            "--format",
            "text",
        ],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(env.read(&target).starts_with("row,to,status,"));
}

/// The peak resident memory of `wacast` running with `args`, in KiB, read from
/// `/proc/PID/status` (`VmHWM`, the high-water mark) until it exits.
fn peak_kib(env: &Env, args: &[&str]) -> (u64, std::process::ExitStatus) {
    let mut child = crate::ops::command(env, args, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run wacast");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_path)
            && let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait for wacast") {
            return (peak, status);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[tokio::test]
async fn a_file_of_megabyte_cells_is_rejected_row_by_row_in_bounded_memory() {
    let env = Env::new().await;
    // 80 rows of 1 MB each: before the byte bound, one chunk of rows held all 80 MB.
    let path = env.dir.path().join("big.csv");
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        file.write_all(b"phone,name\n").unwrap();
        let cell = "y".repeat(1 << 20);
        for i in 0..80 {
            writeln!(file, "+49151234{i:05},{cell}").unwrap();
        }
        writeln!(file, "+4915123499999,small").unwrap();
    }
    let small = env.write("small.csv", "phone,name\n+4915123456701,Anna\n");
    let base_args = [
        "enqueue",
        "--from",
        crate::support::FROM,
        "--text",
        "Hi {{name}}",
    ];
    let (base, status) = peak_kib(
        &env,
        &[&base_args[..], &["--csv", small.to_str().unwrap()]].concat(),
    );
    assert!(status.success(), "{status:?}");
    let (peak, status) = peak_kib(
        &env,
        &[&base_args[..], &["--csv", path.to_str().unwrap()]].concat(),
    );
    assert_eq!(status.code(), Some(1), "rows were rejected");
    eprintln!("peak resident memory: {base} KiB for one row, {peak} KiB for 80 MB of rows");
    // The ingest's budget is 64 MB; the rows in flight are held to half of it, which leaves the
    // rest for the set of accepted numbers of a large file. (Without the byte bound on chunks
    // the second file below peaks 65 MB over the base; with it, about 3 MB.)
    let budget = 32 * 1024;
    assert!(
        peak < base + budget,
        "peak {peak} KiB, base {base} KiB: more than 32 MB for the rows"
    );
    let lines = rejects(&env, "big.rejects.csv");
    assert_eq!(lines.len(), 80);
    assert!(
        lines[0].starts_with("2,\"the row holds 1048590 bytes, more than the 65536 a row may hold"),
        "{}",
        &lines[0][..100]
    );

    // Rows under the row bound (60 KB texts, over WhatsApp's 4,096 characters): a chunk of
    // 1,000 of them would hold 60 MB, so chunks are bounded in bytes too.
    let path = env.dir.path().join("wide.csv");
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        file.write_all(b"phone,name\n").unwrap();
        let cell = "w".repeat(60_000);
        for i in 0..2_000 {
            writeln!(file, "+4915{i:09},{cell}").unwrap();
        }
    }
    let (peak, status) = peak_kib(
        &env,
        &[&base_args[..], &["--csv", path.to_str().unwrap()]].concat(),
    );
    eprintln!("peak resident memory: {peak} KiB for 2,000 rows of 60 KB");
    assert_eq!(status.code(), Some(1), "rows were rejected");
    assert!(
        peak < base + budget,
        "peak {peak} KiB, base {base} KiB: more than 32 MB for the rows"
    );
    let lines = rejects(&env, "wide.rejects.csv");
    assert_eq!(lines.len(), 2_000);
    assert!(
        lines[0].contains("more than the 4096 allowed"),
        "{}",
        &lines[0][..100]
    );
}
