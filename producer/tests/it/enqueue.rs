//! `wacast enqueue`: hostile CSVs, rejects, exactly-once, dry runs, overrides.

use serde_json::json;
use wacast_shared::campaign::CampaignId;
use wacast_shared::phone::PhoneNumber;
use wacast_shared::testing::counters_match_messages;

use crate::support::{Env, FROM, to_and_values};

const TEMPLATE: [&str; 6] = [
    "--template",
    "order_confirmation",
    "--language",
    "de",
    "--body",
    "name,order_id",
];

#[tokio::test]
async fn bom_semicolons_crlf_and_odd_headers_are_read() {
    let env = Env::new().await;
    let csv = env.write(
        "in.csv",
        "\u{feff}\" Phone Number \";NAME;Order  ID\r\n\
         +49 151 23456789;Jürgen;A-1\r\n\
         0151 23456780;\"Müller; Erika\";A-2\r\n\
         004915123456781;Zoë;A-3\r\n",
    );
    let out = env.enqueue(&csv, &[&TEMPLATE[..], &["--region", "DE"]].concat());
    assert_eq!(out.code, 0, "{out:#?}");
    let summary = out.json();
    assert_eq!(
        (summary["rows"].as_u64(), summary["enqueued"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(summary["rejected"], 0);
    let id = summary["campaign"].as_str().unwrap().to_string();
    for (row, expect) in [
        (1, ["4915123456789", "Jürgen", "A-1"]),
        (2, ["4915123456780", "Müller; Erika", "A-2"]),
        (3, ["4915123456781", "Zoë", "A-3"]),
    ] {
        assert_eq!(
            to_and_values(&env.message(&id, row).await),
            expect,
            "row {row}"
        );
    }
    // The rejects file exists and says nothing was rejected, in the input's delimiter.
    let rejects = env.read(&env.dir.path().join("in.rejects.csv"));
    assert_eq!(rejects, "line;reason; Phone Number ;NAME;Order  ID\n");
}

#[tokio::test]
async fn tab_delimited_freetext_keeps_line_breaks_inside_quotes() {
    let env = Env::new().await;
    let csv = env.write(
        "tabs.tsv",
        "mobile\tname\n+4915123456701\t\"Anna\nand Ben\"\n+4915123456702\tCarl\n",
    );
    let out = env.enqueue(&csv, &["--text", "Hello {{name}}"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.json()["campaign"].as_str().unwrap().to_string();
    // Freetext may hold line breaks; only template parameters may not.
    assert_eq!(
        to_and_values(&env.message(&id, 1).await),
        ["4915123456701", "Anna\nand Ben"]
    );
    assert_eq!(
        to_and_values(&env.message(&id, 2).await),
        ["4915123456702", "Carl"]
    );
    assert_eq!(
        env.campaign(&id).await["content"],
        r#"{"text":"Hello {{name}}"}"#
    );
}

#[tokio::test]
async fn bad_rows_go_to_the_rejects_file_with_line_and_reason() {
    let env = Env::new().await;
    let csv = env.write(
        "mixed.csv",
        "phone,name,order_id,note\n\
         +4915123456701,Anna,ORD-1,ok\n\
         +4915123456702,\"Ben\nTwo\",ORD-2,line break in a parameter\n\
         +4915123456703,Carl\tTab,ORD-3,tab\n\
         +4915123456704,Dora     Five,ORD-4,five spaces\n\
         +4915123456705,,ORD-5,empty\n\
         +4915123456706,Emil\n\
         +4915123456707,Fritz,ORD-7,extra,field\n\
         +49 151 234 567 01,Anna again,ORD-8,duplicate\n\
         0151 23,Gus,ORD-9,bad number\n\
         +4915123456710,Hans,ORD-10,\"a note\nover two lines\"\n\
         +4915123456711,Ida,ORD-11,\n",
    );
    let rejects = env.dir.path().join("bad.csv");
    let out = env.enqueue(
        &csv,
        &[
            &TEMPLATE[..],
            &["--region", "DE", "--rejects", rejects.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(out.code, 1, "{out:#?}");
    let summary = out.json();
    assert_eq!(summary["rows"], 11);
    assert_eq!(summary["enqueued"], 3);
    assert_eq!(summary["rejected"], 8);
    assert_eq!(
        summary["rejected_by_reason"],
        json!({"invalid_phone": 1, "short_row": 1, "extra_fields": 1, "empty_value": 1,
               "invalid_parameter": 3, "invalid_value": 0, "invalid_override": 0,
               "duplicate": 1, "opted_out": 0, "outside_window": 0,
               "control_character": 0, "too_long": 0, "row_too_large": 0})
    );
    assert_eq!(
        env.read(&rejects),
        "line,reason,phone,name,order_id,note\n\
         3,column name has a line break (WhatsApp refuses it in template parameters),+4915123456702,\"Ben\nTwo\",ORD-2,line break in a parameter\n\
         5,column name has a tab (WhatsApp refuses it in template parameters),+4915123456703,Carl\tTab,ORD-3,tab\n\
         6,column name has more than four spaces in a row (WhatsApp refuses it in template parameters),+4915123456704,Dora     Five,ORD-4,five spaces\n\
         7,column name is empty,+4915123456705,,ORD-5,empty\n\
         8,\"the row has 2 fields, the header has 4: column order_id is missing\",+4915123456706,Emil\n\
         9,\"the row has 5 fields, the header has 4: a value contains the delimiter without quotes\",+4915123456707,Fritz,ORD-7,extra,field\n\
         10,number +4915123456701 is on an earlier row too,+49 151 234 567 01,Anna again,ORD-8,duplicate\n\
         11,\"phone \"\"0151 23\"\" is not a valid number for DE\",0151 23,Gus,ORD-9,bad number\n"
    );
    // Accepted rows keep their row numbers; rejected ones leave gaps.
    let id = summary["campaign"].as_str().unwrap().to_string();
    assert_eq!(
        to_and_values(&env.message(&id, 1).await),
        ["4915123456701", "Anna", "ORD-1"]
    );
    assert_eq!(
        to_and_values(&env.message(&id, 10).await),
        ["4915123456710", "Hans", "ORD-10"]
    );
    assert_eq!(
        to_and_values(&env.message(&id, 11).await),
        ["4915123456711", "Ida", "ORD-11"]
    );
    assert!(env.message(&id, 2).await.is_empty());
    let campaign = env.campaign(&id).await;
    assert_eq!(
        (campaign["total"].as_str(), campaign["rejected"].as_str()),
        ("3", "8")
    );
    assert_eq!(campaign["ingest"], "done");
}

#[tokio::test]
async fn text_output_shows_the_first_rejected_rows_with_hints() {
    let env = Env::new().await;
    let csv = env.write(
        "t.csv",
        "phone,name,order_id\n0151 23,Max,1\n+4915123456701,Eva,2\n",
    );
    let out = env.enqueue(&csv, &[&TEMPLATE[..], &["--format", "text"]].concat());
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stdout.contains("enqueued      1\n"), "{}", out.stdout);
    assert!(
        out.stdout.contains("rejected      1 (see "),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains(
            "line 2: phone \"0151 23\" has no country code (give --region for national numbers)\n\n\
             hint: write numbers with their country code"
        ),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn file_is_another_name_for_csv() {
    // A mistyped `--file` used to be answered with "did you mean --filename?".
    let env = Env::new().await;
    let csv = env.write("f.csv", "phone,name,order_id\n+4915123456701,Max,1\n");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wacast"))
        .arg("enqueue")
        .arg("--file")
        .arg(&csv)
        .args(["--from", FROM, "--prefix", &env.redis.prefix])
        .args(["--redis-url", &env.redis.url, "--format", "json"])
        .args(TEMPLATE)
        .env_remove("WACAST_REDIS_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["enqueued"], 1, "{summary}");
}

#[tokio::test]
async fn national_numbers_need_a_region() {
    let env = Env::new().await;
    let csv = env.write("n.csv", "Telefon,name,order_id\n0151 23456789,Max,1\n");
    let without = env.enqueue(&csv, &TEMPLATE);
    assert_eq!(without.code, 1, "{without:#?}");
    assert_eq!(without.json()["rejected_by_reason"]["invalid_phone"], 1);
    let with = env.enqueue(&csv, &[&TEMPLATE[..], &["--region", "de"]].concat());
    assert_eq!(with.code, 0, "{with:#?}");
    let id = with.json()["campaign"].as_str().unwrap().to_string();
    assert_eq!(env.message(&id, 1).await["to"], "4915123456789");
}

#[tokio::test]
async fn invalid_utf8_is_refused_naming_the_line_and_latin1_reads_with_encoding() {
    let env = Env::new().await;
    let csv = env.write(
        "latin1.csv",
        b"phone,name,order_id\n+4915123456701,Max,1\n+4915123456702,J\xfcrgen,2\n",
    );
    let out = env.enqueue(&csv, &TEMPLATE);
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stderr.contains("line 3 is not valid UTF-8"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--encoding windows-1252"),
        "{}",
        out.stderr
    );
    assert!(env.keys().await.is_empty(), "nothing may be written");

    let out = env.enqueue(&csv, &[&TEMPLATE[..], &["--encoding", "latin1"]].concat());
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.json()["campaign"].as_str().unwrap().to_string();
    assert_eq!(env.message(&id, 2).await["p1"], "Jürgen");
}

#[tokio::test]
async fn opted_out_numbers_are_rejected() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    queue
        .add_optouts(
            &[PhoneNumber::parse("+4915123456702", None).unwrap()],
            wacast_shared::queue::OptoutSource::Manual,
        )
        .await
        .unwrap();
    let csv = env.write(
        "o.csv",
        "phone,name,order_id\n+4915123456701,Anna,1\n+4915123456702,Ben,2\n+4915123456703,Carl,3\n",
    );
    let out = env.enqueue(&csv, &TEMPLATE);
    assert_eq!(out.code, 1, "{out:#?}");
    let summary = out.json();
    assert_eq!(
        (summary["enqueued"].as_u64(), summary["rejected"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(summary["rejected_by_reason"]["opted_out"], 1);
    assert_eq!(
        env.read(&env.dir.path().join("o.rejects.csv")),
        "line,reason,phone,name,order_id\n3,number +4915123456702 is on the opt-out list,+4915123456702,Ben,2\n"
    );
    let id = summary["campaign"].as_str().unwrap().to_string();
    assert!(env.message(&id, 2).await.is_empty());
    assert_eq!(env.campaign(&id).await["rejected"], "1");
}

#[tokio::test]
async fn a_template_mismatch_fails_before_anything_is_written() {
    let env = Env::new().await;
    let templates = env.write(
        "templates.toml",
        "[[templates]]\nname = \"order_confirmation\"\nlanguage = \"de\"\nbody = 2\nbuttons = 1\n",
    );
    let csv = env.write(
        "c.csv",
        "phone,name,order_id,city\n+4915123456701,Anna,1,Bonn\n",
    );
    let templates_arg = templates.to_str().unwrap();
    let out = env.enqueue(
        &csv,
        &[
            "--template",
            "order_confirmation",
            "--language",
            "de",
            "--body",
            "name,order_id,city",
            "--button",
            "order_id",
            "--templates",
            templates_arg,
        ],
    );
    assert_eq!(out.code, 2, "{out:#?}");
    // With --format json the error is one JSON object on stderr.
    assert_eq!(
        out.error()["error"],
        "template order_confirmation (de) has 2 body parameters, --body maps 3 columns: \
         name,order_id,city"
    );
    assert!(env.keys().await.is_empty(), "nothing may be written");

    let unknown = env.enqueue(
        &csv,
        &[
            "--template",
            "promo",
            "--language",
            "de",
            "--templates",
            templates_arg,
        ],
    );
    assert_eq!(unknown.code, 2);
    assert!(
        unknown
            .stderr
            .contains("template promo is not in templates.toml"),
        "{}",
        unknown.stderr
    );

    let ok = env.enqueue(
        &csv,
        &[
            "--template",
            "order_confirmation",
            "--language",
            "de",
            "--body",
            "name,order_id",
            "--button",
            "order_id",
            "--templates",
            templates_arg,
        ],
    );
    assert_eq!(ok.code, 0, "{ok:#?}");
}

#[tokio::test]
async fn header_problems_fail_before_anything_is_written() {
    let env = Env::new().await;
    let no_phone = env.write("a.csv", "name,order_id\nAnna,1\n");
    let out = env.enqueue(&no_phone, &TEMPLATE);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("the header has no phone column; it has: name, order_id"),
        "{}",
        out.stderr
    );
    let no_column = env.write("b.csv", "phone,name\n+4915123456701,Anna\n");
    let out = env.enqueue(&no_column, &TEMPLATE);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("the header has no column order_id"),
        "{}",
        out.stderr
    );
    assert!(env.keys().await.is_empty(), "nothing may be written");
}

#[tokio::test]
async fn a_dry_run_shows_the_first_messages_and_writes_nothing() {
    let env = Env::new().await;
    let csv = env.write(
        "d.csv",
        "phone,name,order_id\n+4915123456701,Anna,1\n+4915123456702,Ben,2\n\
         +4915123456703,Carl,3\n+4915123456704,Dora,4\n",
    );
    let out = env.enqueue(
        &csv,
        &[
            &TEMPLATE[..],
            &[
                "--dry-run",
                "--label",
                "spring",
                "--redis-url",
                "redis://127.0.0.1:1",
            ],
        ]
        .concat(),
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let summary = out.json();
    assert_eq!(summary["dry_run"], true);
    assert_eq!(summary["opt_outs_checked"], false);
    assert_eq!(summary["enqueued"], 4);
    let id = summary["campaign"].as_str().unwrap();
    let preview = summary["preview"].as_array().unwrap();
    assert_eq!(preview.len(), 3);
    assert_eq!(
        preview[1]["body"],
        json!({"from": FROM, "to": "4915123456702", "type": "template",
               "template": "order_confirmation", "language": "de",
               "components": {"body": ["Ben", "2"]}, "ttl": 2880, "label": "spring",
               "foreign_id": format!("{id}.2")})
    );
    assert!(env.keys().await.is_empty(), "a dry run writes nothing");
}

#[tokio::test]
async fn the_same_upload_twice_is_refused() {
    let env = Env::new().await;
    let csv = env.write("s.csv", "phone,name,order_id\n+4915123456701,Anna,1\n");
    let first = env.enqueue(&csv, &TEMPLATE);
    assert_eq!(first.code, 0, "{first:#?}");
    let id = first.json()["campaign"].as_str().unwrap().to_string();

    let again = env.enqueue(&csv, &TEMPLATE);
    assert_eq!(again.code, 2, "{again:#?}");
    assert!(
        again
            .stderr
            .contains(&format!("campaign {id} was already enqueued on ")),
        "{}",
        again.stderr
    );
    assert!(
        again
            .stderr
            .contains("(1 messages): this file was sent with these options before; use --id"),
        "{}",
        again.stderr
    );
    assert_eq!(env.campaign(&id).await["total"], "1");
    assert_eq!(env.n_due().await, 1);

    // Other options make another campaign; --id sends the same file again on purpose.
    let other = env.enqueue(&csv, &[&TEMPLATE[..], &["--ttl", "60"]].concat());
    assert_eq!(other.code, 0, "{other:#?}");
    assert_ne!(other.json()["campaign"], id.as_str());
    let named = env.enqueue(&csv, &[&TEMPLATE[..], &["--id", "again-1"]].concat());
    assert_eq!(named.code, 0, "{named:#?}");
    assert_eq!(named.json()["campaign"], "again-1");
    assert_eq!(env.n_due().await, 3);
}

#[tokio::test]
async fn an_interrupted_enqueue_completes_when_run_again_without_duplicates() {
    let env = Env::new().await;
    let rows = 3500;
    let mut text = String::from("phone,name,order_id\n");
    for i in 0..rows {
        text.push_str(&format!("+49151{:08},Name {i},ORD-{i}\n", 20_000_000 + i));
        // Line 12, read before the crash, and line 3503, after it.
        if i == 9 || i == rows - 1 {
            text.push_str("12,Nobody,ORD-X\n");
        }
    }
    let csv = env.write("big.csv", text);
    let crashed = env.enqueue(
        &csv,
        &[&TEMPLATE[..], &["--crash-after-rows", "1000"]].concat(),
    );
    assert_eq!(crashed.code, 3, "{crashed:#?}");
    let keys = env.keys().await;
    let campaign_key = keys
        .iter()
        .find(|k| k.matches(':').count() == 2 && k.contains(":campaign:"))
        .expect("the campaign hash");
    let id = campaign_key.rsplit(':').next().unwrap().to_string();
    let campaign = env.campaign(&id).await;
    assert_eq!(campaign["ingest"], "running");
    let first: u64 = campaign["total"].parse().unwrap();
    assert!(
        (1000..rows).contains(&first),
        "the crash left {first} messages"
    );

    let resumed = env.enqueue(&csv, &TEMPLATE);
    assert_eq!(resumed.code, 1, "rows were rejected: {resumed:#?}");
    let summary = resumed.json();
    assert_eq!(summary["campaign"], id.as_str());
    assert_eq!(summary["resumed"], true);
    assert_eq!(summary["already_enqueued"], first);
    assert_eq!(summary["enqueued"], rows - first);
    let campaign = env.campaign(&id).await;
    assert_eq!(
        (campaign["total"].as_str(), campaign["queued"].as_str()),
        ("3500", "3500")
    );
    assert_eq!(campaign["ingest"], "done");
    assert_eq!(env.n_due().await, rows);
    let queue = env.redis.queue().await;
    let id = CampaignId::parse(&id).unwrap();
    counters_match_messages(&queue, &id)
        .await
        .expect("counters equal the message hashes");
    // The rejects kept are the whole file's, read again by the resumed run.
    let kept = queue.upload_rejects(&id).await.unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!((kept[0].code.as_str(), kept[0].count), ("invalid_phone", 2));
    let lines: Vec<u64> = kept[0].rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, [12, 3503]);

    // And now it is complete: a third run is refused.
    assert_eq!(env.enqueue(&csv, &TEMPLATE).code, 2);
}

#[tokio::test]
async fn per_row_overrides_land_in_the_message_hash() {
    let env = Env::new().await;
    let csv = env.write(
        "ov.csv",
        "phone,name,order_id,delay,ttl,label,language\n\
         +4915123456701,Anna,1,2030-01-01 10:00,60,vip,en\n\
         +4915123456702,Ben,2,,,,\n\
         +4915123456703,Carl,3,,abc,,\n\
         +4915123456704,Dora,4,,,bad label,\n\
         +4915123456705,Emil,5,2029-06-01 08:00,2880,spring,de\n",
    );
    let out = env.enqueue(
        &csv,
        &[
            &TEMPLATE[..],
            &[
                "--delay",
                "2029-06-01 08:00",
                "--tz",
                "Europe/Berlin",
                "--label",
                "spring",
            ],
        ]
        .concat(),
    );
    assert_eq!(out.code, 1, "{out:#?}");
    let summary = out.json();
    assert_eq!(summary["rejected_by_reason"]["invalid_override"], 2);
    assert_eq!(summary["first_send_at"], "2029-06-01T06:00:00Z");
    let id = summary["campaign"].as_str().unwrap().to_string();

    let anna = env.message(&id, 1).await;
    assert_eq!(anna["send_at"], "2030-01-01T09:00:00Z");
    assert_eq!(
        (
            anna["ttl"].as_str(),
            anna["label"].as_str(),
            anna["language"].as_str()
        ),
        ("60", "vip", "en")
    );
    assert_eq!(env.due(&id, 1).await, Some(1_893_488_400_000));

    // No override, or one equal to the campaign's, is stored as nothing.
    let ben = env.message(&id, 2).await;
    for field in ["send_at", "ttl", "label", "language"] {
        assert!(!ben.contains_key(field), "{field} in {ben:?}");
    }
    let campaign_send_at = chrono::DateTime::parse_from_rfc3339("2029-06-01T06:00:00Z").unwrap();
    assert_eq!(
        env.due(&id, 2).await,
        Some(campaign_send_at.timestamp_millis())
    );
    let emil = env.message(&id, 5).await;
    for field in ["send_at", "ttl", "label", "language"] {
        assert!(!emil.contains_key(field), "{field} in {emil:?}");
    }

    let rejects = env.read(&env.dir.path().join("ov.rejects.csv"));
    assert!(
        rejects.contains("\n4,\"ttl \"\"abc\"\" is not a number of minutes"),
        "{rejects}"
    );
    assert!(
        rejects.contains("\n5,\"label \"\"bad label\"\" contains ' '"),
        "{rejects}"
    );
}

#[tokio::test]
async fn excel_unicode_text_is_read_without_flags() {
    // Excel's "Unicode Text" export: UTF-16LE with a BOM, tab-delimited.
    let env = Env::new().await;
    let text = "\u{feff}Handy\tName\n+4915123456701\tJürgen Weiß\n";
    let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let csv = env.write("excel.txt", bytes);
    let out = env.enqueue(&csv, &["--text", "Hallo {{name}}"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.json()["campaign"].as_str().unwrap().to_string();
    assert_eq!(
        to_and_values(&env.message(&id, 1).await),
        ["4915123456701", "Jürgen Weiß"]
    );
}

#[tokio::test]
async fn per_row_coordinates_and_urls_are_checked() {
    let env = Env::new().await;
    let csv = env.write(
        "loc.csv",
        "phone,lat,shop\n+4915123456701,52.52,Berlin\n+4915123456702,north,Nowhere\n\
         +4915123456703,95,Pole\n",
    );
    let out = env.enqueue(
        &csv,
        &[
            "--kind",
            "location",
            "--latitude",
            "{{lat}}",
            "--longitude",
            "13.4",
            "--name",
            "{{shop}}",
        ],
    );
    assert_eq!(out.code, 1, "{out:#?}");
    assert_eq!(out.json()["rejected_by_reason"]["invalid_value"], 2);
    let rejects = env.read(&env.dir.path().join("loc.rejects.csv"));
    assert!(
        rejects.contains("\n3,\"latitude \"\"north\"\" is not a number from -90 to 90\""),
        "{rejects}"
    );
    assert!(
        rejects.contains("\n4,\"latitude \"\"95\"\" is not a number from -90 to 90\""),
        "{rejects}"
    );

    let csv = env.write(
        "img.csv",
        "phone,img\n+4915123456701,https://x.example/a.jpg\n+4915123456702,a.jpg\n",
    );
    let out = env.enqueue(&csv, &["--kind", "image", "--url", "{{img}}"]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert_eq!(out.json()["rejected_by_reason"]["invalid_value"], 1);
    let id = out.json()["campaign"].as_str().unwrap().to_string();
    assert_eq!(
        env.campaign(&id).await["content"],
        r#"{"type":"image","url":"{{img}}"}"#
    );
}

#[tokio::test]
async fn only_open_window_is_stored_for_freetext_and_refused_for_templates() {
    let env = Env::new().await;
    let csv = env.write(
        "w.csv",
        "phone,name,order_id\n+4915123456701,Anna,1\n+4915123456702,Ben,2\n",
    );
    let out = env.enqueue(
        &csv,
        &["--text", "Hi {{name}}", "--only-open-window", "--id", "win"],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(env.campaign("win").await["only_window"], "1");
    // Without the flag the field is absent, as every optional field is.
    let out = env.enqueue(&csv, &["--text", "Hi {{name}}", "--id", "all"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(!env.campaign("all").await.contains_key("only_window"));

    let before = env.keys().await;
    let out = env.enqueue(
        &csv,
        &[&TEMPLATE[..], &["--only-open-window", "--id", "tpl"]].concat(),
    );
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.error()["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("--only-open-window is for --text and --kind messages")),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains("leave out --only-open-window"),
        "{out:#?}"
    );
    assert_eq!(env.keys().await, before, "nothing may be written");
}
