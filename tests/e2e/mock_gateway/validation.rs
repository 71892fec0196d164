//! Validation rules, error codes 400, 7002001, 900 and 902, events, and template files.

use reqwest::StatusCode;
use serde_json::{Value, json};
use wacast_tests::MockGatewayProcess;

use crate::mock_gateway::{
    KEY, RECIPIENT, SENDER, order_confirmation, seed_examples, start, template, text, unix_now,
};

#[tokio::test]
async fn invalid_messages_are_refused_with_400_naming_the_problem() {
    let gateway = start(&["--all-windows-open"]);
    let examples: Vec<Value> = seed_examples().into_iter().map(|(_, body)| body).collect();
    let find = |kind: &str| -> Value {
        examples
            .iter()
            .find(|body| {
                body["type"] == kind || body.get("interactive_type").is_some_and(|t| t == kind)
            })
            .cloned()
            .expect("the seed has this example")
    };
    let change = |mut body: Value, key: &str, value: Value| {
        body[key] = value;
        body
    };
    let without = |mut body: Value, key: &str| {
        body.as_object_mut().expect("object").remove(key);
        body
    };
    let order = |name: &str| order_confirmation(name, "ORD-1");
    let long = |n: usize| "a".repeat(n);
    let buttons = |n: usize| {
        let buttons: Vec<Value> = (0..n)
            .map(|idx| json!({"id": format!("b{idx}"), "title": format!("Button {idx}")}))
            .collect();
        change(find("button"), "buttons", Value::Array(buttons))
    };

    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "unregistered sender",
            change(template("hello_world"), "from", json!("4915199999999")),
            "Invalid WhatsApp sender number",
        ),
        (
            "missing sender",
            without(template("hello_world"), "from"),
            "from is required",
        ),
        (
            "recipient with +",
            change(template("hello_world"), "to", json!("+4917612345678")),
            "Invalid recipient number",
        ),
        (
            "recipient too short",
            change(template("hello_world"), "to", json!("1234567")),
            "Invalid recipient number",
        ),
        (
            "recipient too long",
            change(template("hello_world"), "to", json!("1234567890123456")),
            "Invalid recipient number",
        ),
        (
            "recipient as a number",
            change(template("hello_world"), "to", json!(4917612345678_u64)),
            "to must be a string",
        ),
        (
            "missing recipient",
            without(template("hello_world"), "to"),
            "to is required",
        ),
        (
            "unknown type",
            change(template("hello_world"), "type", json!("fax")),
            "type \"fax\" is unknown",
        ),
        (
            "unknown template",
            change(template("hello_world"), "template", json!("nope")),
            "(#132001) template nope does not exist",
        ),
        (
            "template in another language",
            change(template("hello_world"), "language", json!("en")),
            "does not exist in language en",
        ),
        (
            "missing language",
            without(template("hello_world"), "language"),
            "language is required",
        ),
        (
            "too few body parameters",
            change(
                order("Max"),
                "components",
                json!({"body": ["Max"], "buttons": order("x")["components"]["buttons"]}),
            ),
            "expects 2 body parameters, got 1",
        ),
        (
            "missing button parameters",
            change(
                order("Max"),
                "components",
                json!({"body": ["Max", "ORD-1"]}),
            ),
            "expects 1 button parameters, got 0",
        ),
        (
            "parameters for a template without",
            change(
                template("hello_world"),
                "components",
                json!({"body": ["x"]}),
            ),
            "expects 0 body parameters, got 1",
        ),
        (
            "image header that is no URL",
            change(
                template("product_available"),
                "components",
                json!({"header": ["product.jpg"], "body": ["Widget"]}),
            ),
            "http(s) URL",
        ),
        (
            "newline in a parameter",
            order("Max\nMustermann"),
            "(#132018)",
        ),
        ("tab in a parameter", order("Max\tMustermann"), "(#132018)"),
        (
            "five spaces in a parameter",
            order("Max     Mustermann"),
            "(#132018)",
        ),
        (
            "empty parameter",
            order(""),
            "components.body[0] must not be empty",
        ),
        (
            "number as parameter",
            change(
                order("x"),
                "components",
                json!({"body": [1, "ORD-1"], "buttons": order("x")["components"]["buttons"]}),
            ),
            "components.body[0] must be a string",
        ),
        (
            "unknown component",
            change(
                template("hello_world"),
                "components",
                json!({"footer": ["x"]}),
            ),
            "components.footer is unknown",
        ),
        (
            "button without parameters",
            change(
                order("x"),
                "components",
                json!({"body": ["x", "y"], "buttons": [{"type": "button", "sub_type": "url"}]}),
            ),
            "parameters is required",
        ),
        (
            "missing text",
            without(text(RECIPIENT, "x"), "text"),
            "text is required",
        ),
        ("empty text", text(RECIPIENT, " "), "text must not be empty"),
        (
            "text too long",
            text(RECIPIENT, &long(4097)),
            "at most 4096",
        ),
        (
            "image without url",
            without(find("image"), "url"),
            "url is required",
        ),
        (
            "image url that is no URL",
            change(find("image"), "url", json!("photo.jpg")),
            "public http(s) URL",
        ),
        (
            "document without filename",
            without(find("document"), "filename"),
            "filename is required",
        ),
        (
            "audio with a caption",
            change(find("audio"), "caption", json!("x")),
            "field \"caption\" is not a parameter of audio messages",
        ),
        (
            "latitude out of range",
            change(find("location"), "latitude", json!(91.0)),
            "latitude must be between",
        ),
        (
            "longitude missing",
            without(find("location"), "longitude"),
            "longitude is required",
        ),
        (
            "contact without phones",
            change(
                find("contacts"),
                "contacts",
                json!([{"name": {"first_name": "John"}}]),
            ),
            "contacts[0].phones is required",
        ),
        (
            "contact without first name",
            change(
                find("contacts"),
                "contacts",
                json!([{"name": {"last_name": "Doe"}, "phones": [{"phone": "+49123"}]}]),
            ),
            "first_name is required",
        ),
        (
            "contact phone of unknown type",
            change(
                find("contacts"),
                "contacts",
                json!([{"name": {"first_name": "J"}, "phones": [{"phone": "+49123", "type": "fax"}]}]),
            ),
            "type \"fax\" is unknown",
        ),
        ("one button", buttons(1), "need 2 or 3"),
        ("four buttons", buttons(4), "need 2 or 3"),
        (
            "button title of 21 characters",
            change(
                find("button"),
                "buttons",
                json!([{"id": "a", "title": long(21)}, {"id": "b", "title": "B"}]),
            ),
            "buttons[0].title has 21 characters; at most 20",
        ),
        (
            "duplicate button ids",
            change(
                find("button"),
                "buttons",
                json!([{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]),
            ),
            "used by another button",
        ),
        (
            "interactive without interactive_type",
            without(find("button"), "interactive_type"),
            "interactive_type is required",
        ),
        (
            "list without sections",
            without(find("list"), "sections"),
            "sections is required",
        ),
        (
            "list without button_text",
            without(find("list"), "button_text"),
            "button_text is required",
        ),
        (
            "label with a space",
            change(template("hello_world"), "label", json!("spring sale")),
            "label contains ' '",
        ),
        (
            "label of 101 characters",
            change(template("hello_world"), "label", json!(long(101))),
            "label has 101 characters; at most 100",
        ),
        (
            "foreign_id of 65 characters",
            change(template("hello_world"), "foreign_id", json!(long(65))),
            "foreign_id has 65 characters; at most 64",
        ),
        (
            "foreign_id with a slash",
            change(template("hello_world"), "foreign_id", json!("a/b")),
            "foreign_id contains '/'",
        ),
        (
            "delay in words",
            change(template("hello_world"), "delay", json!("tomorrow")),
            "delay \"tomorrow\" must be YYYY-MM-DD hh:mm:ss",
        ),
        (
            "delay with month 13",
            change(
                template("hello_world"),
                "delay",
                json!("2030-13-01 10:00:00"),
            ),
            "must be YYYY-MM-DD hh:mm:ss",
        ),
        (
            "delay in RFC 3339",
            change(
                template("hello_world"),
                "delay",
                json!("2030-01-01T10:00:00Z"),
            ),
            "must be YYYY-MM-DD hh:mm:ss",
        ),
        (
            "delay as a number (the schema types it as a string)",
            change(template("hello_world"), "delay", json!(unix_now() + 60)),
            "delay must be a string",
        ),
        (
            "latitude as text",
            change(find("location"), "latitude", json!("52.5")),
            "latitude must be a number",
        ),
        (
            "ttl of 0",
            change(template("hello_world"), "ttl", json!(0)),
            "ttl must be a whole number",
        ),
        (
            "ttl as a string",
            change(template("hello_world"), "ttl", json!("60")),
            "ttl must be an integer",
        ),
        (
            "performance_tracking as a string",
            change(
                template("hello_world"),
                "performance_tracking",
                json!("yes"),
            ),
            "performance_tracking must be a boolean",
        ),
        (
            "misspelt field",
            change(template("hello_world"), "foreignId", json!("x")),
            "field \"foreignId\" is not a parameter of template messages",
        ),
        (
            "body that is no object",
            json!(["hello"]),
            "must be a JSON object",
        ),
    ];
    let mut n_refused = 0;
    for (name, body, expected) in &cases {
        let message = gateway.refused(body, "400").await;
        assert!(
            message.contains(expected),
            "{name}: expected {expected:?} in {message:?}"
        );
        n_refused += 1;
    }

    // A header parameter missing from a template that has one.
    let mut no_header = template("appointment_reminder");
    no_header["components"] =
        json!({"body": ["a", "b", "c", "d"], "buttons": order("x")["components"]["buttons"]});
    let message = gateway.refused(&no_header, "400").await;
    assert!(
        message.contains("expects 1 header parameters, got 0"),
        "{message}"
    );
    n_refused += 1;

    // Not JSON at all.
    let response = gateway
        .http
        .post(format!("{}/api/waba/messages", gateway.url))
        .header("X-Api-Key", KEY)
        .header("Content-Type", "application/json")
        .body("{\"from\": ")
        .send()
        .await
        .expect("answered");
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer["success"], "400");
    assert!(
        answer["error_message"]
            .as_str()
            .expect("message")
            .contains("not valid JSON")
    );
    n_refused += 1;

    // The limits themselves are allowed.
    let limits = [
        order("Max    Mustermann"),
        change(template("hello_world"), "label", json!(long(100))),
        change(template("hello_world"), "foreign_id", json!(long(64))),
        change(
            find("button"),
            "buttons",
            json!([{"id": "a", "title": long(20)}, {"id": "b", "title": "B"}]),
        ),
        buttons(2),
        change(template("hello_world"), "ttl", json!(1)),
        change(
            template("hello_world"),
            "delay",
            json!(unix_now().to_string()),
        ),
        change(
            template("hello_world"),
            "delay",
            json!("2020-01-01 10:00:00"),
        ),
        change(template("hello_world"), "performance_tracking", json!(true)),
        change(template("hello_world"), "label", json!(null)),
    ];
    for body in &limits {
        gateway.accepted(body).await;
    }

    let stats = gateway.stats().await;
    assert_eq!(stats["rejections"], json!({"400": n_refused}));
    assert_eq!(stats["accepted"], limits.len());
}

#[tokio::test]
async fn freetext_needs_an_open_window_and_templates_do_not() {
    let open = "4917600000001";
    let closed = "4917600000002";
    let windows = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(
        windows.path(),
        format!("# customers who wrote today\n+{open}\n"),
    )
    .expect("window file written");
    let gateway = start(&["--windows", windows.path().to_str().expect("UTF-8 path")]);

    gateway.accepted(&text(open, "Hello again")).await;
    let message = gateway.refused(&text(closed, "Hello"), "7002001").await;
    assert!(message.contains("Not in conversation"), "{message}");
    for (name, mut body) in seed_examples() {
        body["to"] = json!(closed);
        if body["type"] == "template" {
            gateway.accepted(&body).await;
        } else {
            let answer = gateway.send(&body).await;
            assert_eq!(answer["success"], "7002001", "{name}: {answer}");
        }
    }

    let opened = gateway
        .post_raw("/windows", None, &json!({"open": [closed]}))
        .await;
    assert_eq!(opened.status(), StatusCode::OK);
    gateway.accepted(&text(closed, "Now we talk")).await;
    gateway
        .post_raw("/windows", None, &json!({"close": [open]}))
        .await;
    gateway.refused(&text(open, "Too late"), "7002001").await;

    let stats = gateway.stats().await;
    assert_eq!(stats["rejections"]["7002001"], 12);
}

#[tokio::test]
async fn authentication_failures_answer_900_and_a_key_without_waba_scope_902() {
    let gateway = start(&["--api-key", "right", "--no-waba-scope-key", "smsonly"]);
    let body = template("hello_world");
    for key in [None, Some("wrong"), Some("test-key")] {
        let response = gateway.post_raw("/api/waba/messages", key, &body).await;
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = response.json().await.expect("JSON");
        assert_eq!(answer["success"], "900", "key {key:?}");
        assert!(
            answer["error_message"]
                .as_str()
                .expect("message")
                .contains("Authentication has failed")
        );
    }
    let answer: Value = gateway
        .post_raw("/api/waba/messages", Some("smsonly"), &body)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["success"], "902");
    assert!(
        answer["error_message"]
            .as_str()
            .expect("message")
            .contains("waba scope")
    );

    let answer: Value = gateway
        .post_raw(
            "/api/waba/events",
            Some("wrong"),
            &json!({"from": SENDER, "to": RECIPIENT, "event": "read"}),
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["success"], false);
    assert_eq!(answer["error_code"], 900);
    let (status, answer) = gateway.delete("100000001", "smsonly").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["error_code"], 902);

    let answer: Value = gateway
        .post_raw("/api/waba/messages", Some("right"), &body)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["success"], "100");
    let stats = gateway.stats().await;
    assert_eq!(stats["rejections"], json!({"900": 4, "902": 2}));
    assert_eq!(stats["accepted"], 1);
}

#[tokio::test]
async fn events_accept_read_typing_and_reactions_and_refuse_invalid_ones() {
    let gateway = start(&[]);
    for event in [
        json!({"from": SENDER, "to": RECIPIENT, "event": "read"}),
        json!({"from": SENDER, "msg_id": "123456789", "event": "read"}),
        json!({"from": SENDER, "to": RECIPIENT, "event": "is_typing"}),
        json!({"event": "reaction", "msg_id": "123456789", "emoji": "👍"}),
        json!({"event": "reaction", "msg_id": "123456789", "emoji": ""}),
    ] {
        assert_eq!(
            gateway.event(&event).await,
            json!({"success": true}),
            "{event}"
        );
    }
    let cases = [
        (
            json!({"from": SENDER, "event": "read"}),
            "at least one of to or msg_id",
        ),
        (
            json!({"from": "4915100000000", "to": RECIPIENT, "event": "read"}),
            "Invalid WhatsApp sender number",
        ),
        (
            json!({"to": RECIPIENT, "event": "is_typing"}),
            "from is required",
        ),
        (
            json!({"from": SENDER, "to": "0176", "event": "read"}),
            "Invalid recipient number",
        ),
        (
            json!({"from": SENDER, "to": RECIPIENT, "event": "wave"}),
            "event \"wave\" is unknown",
        ),
        (
            json!({"from": SENDER, "to": RECIPIENT}),
            "event is required",
        ),
        (
            json!({"event": "reaction", "emoji": "👍"}),
            "msg_id is required",
        ),
        (
            json!({"event": "reaction", "msg_id": "1"}),
            "emoji is required",
        ),
        (
            json!({"event": "read", "from": SENDER, "to": RECIPIENT, "emoji": "👍"}),
            "field \"emoji\" is not a parameter of read events",
        ),
    ];
    for (event, expected) in &cases {
        let answer = gateway.event(event).await;
        assert_eq!(answer["success"], false, "{event}");
        assert_eq!(answer["error_code"], 400, "{event}");
        let message = answer["error_message"].as_str().expect("message");
        assert!(
            message.contains(expected),
            "{event}: expected {expected:?} in {message:?}"
        );
    }
    let stats = gateway.stats().await;
    assert_eq!(
        stats["events"],
        json!({"read": 2, "is_typing": 1, "reaction": 2})
    );
    assert_eq!(stats["rejections"]["400"], cases.len());
    assert_eq!(stats["requests"]["events"], 5 + cases.len());
}

#[tokio::test]
async fn template_files_add_approved_templates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let toml_path = dir.path().join("templates.toml");
    std::fs::write(
        &toml_path,
        r#"
[[templates]]
name = "shipping_update"
language = "en"
body = 2
body_text = "Hi {{1}}, parcel {{2}} is on its way."
"#,
    )
    .expect("written");
    let json_path = dir.path().join("templates.json");
    std::fs::write(
        &json_path,
        r#"[{"name": "promo", "language": "de", "header": 1, "header_format": "image", "body": 0, "buttons": 1}]"#,
    )
    .expect("written");

    for path in [&toml_path, &json_path] {
        let gateway = start(&["--templates", path.to_str().expect("UTF-8")]);
        gateway.accepted(&template("hello_world")).await;
        if path == &toml_path {
            let mut body = template("shipping_update");
            body["language"] = json!("en");
            body["components"] = json!({"body": ["Ann", "P-7"]});
            let message = gateway.accepted(&body).await;
            let content: Value =
                serde_json::from_str(message["text"].as_str().expect("text")).expect("JSON");
            assert_eq!(
                content["rendered"]["body"],
                "Hi Ann, parcel P-7 is on its way."
            );
            body["components"] = json!({"body": ["Ann"]});
            let message = gateway.refused(&body, "400").await;
            assert!(
                message.contains("expects 2 body parameters, got 1"),
                "{message}"
            );
        } else {
            let mut body = template("promo");
            body["components"] = json!({
                "header": ["https://example.com/p.png"],
                "buttons": [{"type": "button", "sub_type": "quick_reply", "parameters": [{"type": "payload", "payload": "stop"}]}],
            });
            gateway.accepted(&body).await;
        }
    }

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, r#"[{"name": "x"}]"#).expect("written");
    let err = MockGatewayProcess::spawn(
        env!("CARGO_BIN_EXE_mock-gateway"),
        &["--templates", broken.to_str().expect("UTF-8")],
    )
    .expect_err("a broken template file stops the gateway");
    assert!(format!("{err:#}").contains("broken.json"), "{err:#}");
}
