//! Q9 (every malformed input is a 4xx with a message, never a 500; bodies and heads bounded) and
//! Q6 (a challenge token never reaches the log) against the real portal, sent as raw HTTP/1.1 so
//! that bodies, content types, chunking and heads are exactly what a hostile client sends.

mod support;

use serde_json::{json, Value};
use support::{captured_logs, spawn_app, Role, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ------------------------------------------------------------------ captured logs

/// This binary's log, kept from its first portal on (support::capture_logs).
fn logs() {
    support::capture_logs("info");
}

// ------------------------------------------------------------------ raw HTTP

const JSON: Option<&str> = Some("application/json");
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const TEXT: Option<&str> = Some("text/plain");

/// How a request's body travels.
#[derive(Clone, Copy, PartialEq)]
enum Framing {
    /// With `Content-Length`.
    Length,
    /// `Transfer-Encoding: chunked`, so no length is known in advance.
    Chunked,
}

/// One hostile request and the status it must get.
struct Case {
    what: String,
    role: Role,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    framing: Framing,
    /// Extra header lines, `Name: value`.
    headers: Vec<String>,
    expect: u16,
    /// Whether the answer must carry a message. Only hyper's own refusals of a malformed or
    /// oversized head have none: they are written before any handler runs.
    message: bool,
}

impl Case {
    fn new(what: impl Into<String>, role: Role, method: &'static str, path: &str) -> Case {
        Case {
            what: what.into(),
            role,
            method,
            path: path.to_string(),
            content_type: None,
            body: Vec::new(),
            framing: Framing::Length,
            headers: Vec::new(),
            expect: 400,
            message: true,
        }
    }
    fn body(mut self, content_type: Option<&'static str>, body: impl Into<Vec<u8>>) -> Case {
        self.content_type = content_type;
        self.body = body.into();
        self
    }
    fn chunked(mut self) -> Case {
        self.framing = Framing::Chunked;
        self
    }
    fn header(mut self, line: impl Into<String>) -> Case {
        self.headers.push(line.into());
        self
    }
    fn expect(mut self, status: u16) -> Case {
        self.expect = status;
        self
    }
    fn without_message(mut self) -> Case {
        self.message = false;
        self
    }
}

/// A raw answer: status and decoded body.
struct Answer {
    status: u16,
    body: String,
}

/// Sends `head` and `body` on a fresh connection and reads the answer. The body is written while
/// the answer is read: a server that refuses early (413) must not leave the writer stuck.
async fn exchange(address: &str, head: Vec<u8>, body: Vec<u8>) -> Answer {
    let stream = TcpStream::connect(address.trim_start_matches("http://"))
        .await
        .unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let send = tokio::spawn(async move {
        // A refused request may be cut off by the server: write errors are expected then.
        if writer.write_all(&head).await.is_ok() {
            let _ = writer.write_all(&body).await;
        }
        writer
    });
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let _ = send.await;
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Answer { status, body }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// Session cookies made once per role.
struct Sessions {
    nap: String,
    user: String,
}

async fn send(app: &TestApp, sessions: &Sessions, case: &Case) -> Answer {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n",
        case.method, case.path
    );
    if case.method != "GET" && !case.headers.iter().any(|h| h.starts_with("Origin:")) {
        head.push_str(&format!("Origin: {}\r\n", app.address));
    }
    match case.role {
        Role::Nap => head.push_str(&format!("Cookie: {}\r\n", sessions.nap)),
        Role::User => head.push_str(&format!("Cookie: {}\r\n", sessions.user)),
        _ => {}
    }
    if let Some(t) = case.content_type {
        head.push_str(&format!("Content-Type: {t}\r\n"));
    }
    for h in &case.headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    let body = match case.framing {
        Framing::Length => {
            if case.method != "GET" {
                head.push_str(&format!("Content-Length: {}\r\n", case.body.len()));
            }
            case.body.clone()
        }
        Framing::Chunked => {
            head.push_str("Transfer-Encoding: chunked\r\n");
            let mut chunked = Vec::new();
            for chunk in case.body.chunks(8 * 1024) {
                chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                chunked.extend_from_slice(chunk);
                chunked.extend_from_slice(b"\r\n");
            }
            chunked.extend_from_slice(b"0\r\n\r\n");
            chunked
        }
    };
    head.push_str("\r\n");
    exchange(&app.address, head.into_bytes(), body).await
}

// ------------------------------------------------------------------ the cases

/// A JSON server function: its path, arguments of the right shape (for the framing cases), and
/// well-formed JSON that does not fit its arguments (422 each).
struct JsonFunction {
    path: &'static str,
    good: Value,
    misfits: Vec<Value>,
}

fn table_query() -> Value {
    json!({"search": "", "active": null, "mailbox_type": null, "state": null, "sort": "Primary",
           "descending": false, "page": 0, "page_size": 50, "anchor": null})
}

fn with(mut value: Value, pointer: &str, new: Value) -> Value {
    *value.pointer_mut(pointer).unwrap() = new;
    value
}

fn without(mut value: Value, field: &str) -> Value {
    value.as_object_mut().unwrap().remove(field);
    value
}

fn json_functions() -> Vec<JsonFunction> {
    let form = json!({"first_name": "A", "last_name": "B", "aliases": "", "mailbox_type": "personal",
                      "applicant": "", "comment": ""});
    let list = json!({"domain": "example.org", "query": table_query()});
    let create = json!({"domain": "example.org", "primary": "new@example.org", "form": form});
    let edit = json!({"id": 1, "version": 1, "form": form});
    let active = json!({"rows": [[1, 1]], "active": false});
    let audit = json!({"domain": "example.org", "query": {}});
    let request = json!({"row_id": 1, "addresses": ["a@example.org"], "key": {"ServerKey": "a long password"}});
    let revoke = json!({"id": 1, "reason": "keyCompromise"});
    let token =
        json!({"name": "idm-sync", "domain_ids": [1], "scope": "Read", "expires_on": "2027-03-01"});
    let deactivate = json!({"rows": [[1, 1]], "revoke": "affiliationChanged"});
    vec![
        JsonFunction {
            path: "/api/rows/list",
            misfits: vec![
                with(list.clone(), "/query/page", json!(-1)),
                with(list.clone(), "/query/page", json!("1")),
                with(list.clone(), "/query/page", json!(4_294_967_296u64)),
                with(list.clone(), "/query/page_size", json!(1.5)),
                with(list.clone(), "/query/sort", json!("Sideways")),
                with(list.clone(), "/query/state", json!("Maybe")),
                with(list.clone(), "/query/mailbox_type", json!("robot")),
                with(list.clone(), "/query/anchor", json!({"Sideways": 3})),
                with(list.clone(), "/query/active", json!("yes")),
                with(list.clone(), "/domain", json!(5)),
                without(list.clone(), "query"),
                with(list.clone(), "/query", json!(null)),
            ],
            good: list,
        },
        JsonFunction {
            path: "/api/rows/create",
            misfits: vec![
                without(create.clone(), "form"),
                with(create.clone(), "/primary", json!(5)),
                with(create.clone(), "/form/first_name", json!(["A"])),
                with(create.clone(), "/form", json!("personal")),
            ],
            good: create,
        },
        JsonFunction {
            path: "/api/rows/preview_edit",
            misfits: vec![
                with(edit.clone(), "/id", json!("1")),
                with(edit.clone(), "/id", json!(1.5)),
                without(edit.clone(), "form"),
            ],
            good: edit.clone(),
        },
        JsonFunction {
            path: "/api/rows/edit",
            misfits: vec![
                with(edit.clone(), "/version", json!(null)),
                with(edit.clone(), "/id", json!(9_223_372_036_854_775_808u64)),
                with(edit.clone(), "/form/comment", json!({"text": "x"})),
            ],
            good: edit.clone(),
        },
        JsonFunction {
            path: "/api/rows/set_active",
            misfits: vec![
                with(active.clone(), "/rows", json!([[1]])),
                with(active.clone(), "/rows", json!([[1, 2, 3]])),
                with(active.clone(), "/active", json!("yes")),
            ],
            good: active,
        },
        JsonFunction {
            path: "/api/rows/delete",
            misfits: vec![json!({"id": "x", "version": 1}), json!({"id": 1})],
            good: json!({"id": 1, "version": 1}),
        },
        JsonFunction {
            path: "/api/challenges/send",
            misfits: vec![json!({"row_ids": "1,2"}), json!({"row_ids": [1.5]})],
            good: json!({"row_ids": [1]}),
        },
        JsonFunction {
            path: "/api/challenges/send_unconfirmed",
            misfits: vec![json!({"domain": []}), json!({})],
            good: json!({"domain": "example.org"}),
        },
        JsonFunction {
            path: "/api/audit/list",
            misfits: vec![
                with(audit.clone(), "/query", json!({"from": 5})),
                with(audit.clone(), "/query", json!("x")),
            ],
            good: audit,
        },
        JsonFunction {
            path: "/api/challenge/info",
            misfits: vec![json!({"token": 5}), json!({})],
            good: json!({"token": "abc"}),
        },
        JsonFunction {
            path: "/api/challenge/confirm",
            misfits: vec![json!({"token": null}), json!({"token": {}})],
            good: json!({"token": "abc"}),
        },
        JsonFunction {
            path: "/api/certificates/mine",
            misfits: vec![],
            good: json!({}),
        },
        JsonFunction {
            path: "/api/certificates/request",
            misfits: vec![
                with(request.clone(), "/key", json!({"Pkcs11": "x"})),
                with(request.clone(), "/key", json!("ServerKey")),
                with(request.clone(), "/addresses", json!("a@example.org")),
            ],
            good: request,
        },
        JsonFunction {
            path: "/api/certificates/revoke_own",
            misfits: vec![
                with(revoke.clone(), "/reason", json!("stolen")),
                with(revoke.clone(), "/reason", json!("KeyCompromise")),
            ],
            good: revoke.clone(),
        },
        JsonFunction {
            path: "/api/certificates/of_row",
            misfits: vec![json!({"row_id": "1"})],
            good: json!({"row_id": 1}),
        },
        JsonFunction {
            path: "/api/certificates/revoke_as_nap",
            misfits: vec![with(revoke.clone(), "/reason", json!(3))],
            good: revoke,
        },
        JsonFunction {
            path: "/api/certificates/revoke_rows",
            misfits: vec![json!({"row_ids": [1]})],
            good: json!({"row_ids": [1], "reason": "unspecified"}),
        },
        // The handover (R18, R19) and the digest setting (R23).
        JsonFunction {
            path: "/api/handover/deactivate",
            misfits: vec![
                with(deactivate.clone(), "/revoke", json!("sometimes")),
                with(deactivate.clone(), "/rows", json!([[1]])),
                with(deactivate.clone(), "/rows", json!([["1", 1]])),
                without(deactivate.clone(), "rows"),
            ],
            good: deactivate,
        },
        JsonFunction {
            path: "/api/handover/reactivate_and_send",
            misfits: vec![json!({"rows": [1]}), json!({"rows": "all"})],
            good: json!({"rows": [[1, 1]]}),
        },
        JsonFunction {
            path: "/api/handover/new_person",
            misfits: vec![
                without(edit.clone(), "version"),
                with(edit.clone(), "/form/comment", json!(false)),
            ],
            good: edit.clone(),
        },
        JsonFunction {
            path: "/api/handover/worklist",
            misfits: vec![json!({"domain": ["example.org"]}), json!({})],
            good: json!({"domain": "example.org"}),
        },
        JsonFunction {
            path: "/api/digest/setting",
            misfits: vec![json!({"domain": 7})],
            good: json!({"domain": "example.org"}),
        },
        JsonFunction {
            path: "/api/digest/set",
            misfits: vec![
                json!({"domain": "example.org", "enabled": "yes"}),
                json!({"domain": "example.org"}),
            ],
            good: json!({"domain": "example.org", "enabled": true}),
        },
        // IdM deprovisioning (R22): the domain setting, the worklist's proposals, the holds.
        JsonFunction {
            path: "/api/deprovision/mode",
            misfits: vec![json!({"domain": 7}), json!({})],
            good: json!({"domain": "example.org"}),
        },
        JsonFunction {
            path: "/api/deprovision/set_mode",
            misfits: vec![
                json!({"domain": "example.org", "mode": "Sometimes"}),
                json!({"domain": "example.org", "mode": "revoke"}),
                json!({"domain": "example.org"}),
            ],
            good: json!({"domain": "example.org", "mode": "Propose"}),
        },
        JsonFunction {
            path: "/api/deprovision/proposals",
            misfits: vec![json!({"domain": ["example.org"]}), json!({})],
            good: json!({"domain": "example.org"}),
        },
        JsonFunction {
            path: "/api/deprovision/accept",
            misfits: vec![json!({"id": "1"}), json!({"id": 1.5}), json!({})],
            good: json!({"id": 1}),
        },
        JsonFunction {
            path: "/api/deprovision/dismiss",
            misfits: vec![json!({"id": null}), json!({"id": [1]})],
            good: json!({"id": 1}),
        },
        JsonFunction {
            path: "/api/deprovision/holds",
            misfits: vec![],
            good: json!({}),
        },
        JsonFunction {
            path: "/api/deprovision/confirm",
            misfits: vec![json!({"ids": 1}), json!({"ids": ["1"]}), json!({})],
            good: json!({"ids": [1]}),
        },
        JsonFunction {
            path: "/api/deprovision/discard",
            misfits: vec![json!({"ids": "all"}), json!({"ids": [1.5]})],
            good: json!({"ids": [1]}),
        },
        // API tokens (R21).
        JsonFunction {
            path: "/api/api_tokens/list",
            misfits: vec![],
            good: json!({}),
        },
        JsonFunction {
            path: "/api/api_tokens/create",
            misfits: vec![
                without(token.clone(), "domain_ids"),
                with(token.clone(), "/domain_ids", json!("1")),
                with(token.clone(), "/domain_ids", json!([1.5])),
                with(token.clone(), "/scope", json!("Write")),
                with(token.clone(), "/scope", json!("read")),
                with(token.clone(), "/expires_on", json!(90)),
                with(token.clone(), "/name", json!(null)),
            ],
            good: token.clone(),
        },
        JsonFunction {
            path: "/api/api_tokens/revoke",
            misfits: vec![json!({"id": "1"}), json!({"id": 1.5}), json!({})],
            good: json!({"id": 1}),
        },
    ]
}

/// A body just over the 256 KiB every endpoint but the CSV upload accepts.
fn oversized_json() -> Vec<u8> {
    format!(
        "{{\"padding\":\"{}\"}}",
        "x".repeat(server::security::MAX_BODY_BYTES)
    )
    .into_bytes()
}

fn server_function_cases(role: Role) -> Vec<Case> {
    let mut cases = Vec::new();
    for f in json_functions() {
        let good = f.good.to_string();
        let call = |what: &str| Case::new(format!("{} {what}", f.path), role, "POST", f.path);
        let malformed: [(&str, Vec<u8>); 9] = [
            ("empty body", Vec::new()),
            ("lone brace", b"{".to_vec()),
            ("unterminated string", b"{\"domain\":\"exa".to_vec()),
            ("trailing garbage", format!("{good} trailing").into_bytes()),
            ("two documents", format!("{good}{good}").into_bytes()),
            ("lone surrogate", br#"{"domain":"\ud800"}"#.to_vec()),
            ("invalid UTF-8", b"{\"domain\":\"\xff\xfe\"}".to_vec()),
            ("nesting 10 000 deep", "[".repeat(10_000).into_bytes()),
            ("single quotes", b"{'domain':'example.org'}".to_vec()),
        ];
        for (what, body) in malformed {
            cases.push(call(what).body(JSON, body).expect(400));
        }
        let mut misfits = f.misfits;
        misfits.extend([json!(null), json!(42), json!("text")]);
        if ![
            "/api/certificates/mine",
            "/api/deprovision/holds",
            "/api/api_tokens/list",
        ]
        .contains(&f.path)
        {
            // A function without arguments reads `[]` as its (empty) arguments.
            misfits.push(json!([]));
        }
        for misfit in misfits {
            cases.push(
                call(&format!("misfit {misfit}"))
                    .body(JSON, misfit.to_string())
                    .expect(422),
            );
        }
        for (what, content_type) in [
            ("as text/plain", TEXT),
            ("as a form", FORM),
            ("with no content type", None),
            ("as XML", Some("application/xml")),
        ] {
            cases.push(call(what).body(content_type, good.clone()).expect(415));
        }
        cases.push(
            call("over 256 KiB")
                .body(JSON, oversized_json())
                .expect(413),
        );
        cases.push(
            call("over 256 KiB, chunked")
                .body(JSON, oversized_json())
                .chunked()
                .expect(413),
        );
    }

    // The form functions (`PostUrl`), which a page without WASM may post too.
    let form = |what: &str, path: &str| Case::new(format!("{path} {what}"), role, "POST", path);
    let lang = "/api/set_language";
    cases.push(
        form("unknown language", lang)
            .body(FORM, "lang=Fr")
            .expect(422),
    );
    cases.push(form("empty language", lang).body(FORM, "lang=").expect(422));
    cases.push(form("missing field", lang).body(FORM, "").expect(422));
    cases.push(
        form("unknown field only", lang)
            .body(FORM, "language=En")
            .expect(422),
    );
    cases.push(
        form("invalid UTF-8", lang)
            .body(FORM, b"lang=\xff".to_vec())
            .expect(422),
    );
    cases.push(
        form("as JSON", lang)
            .body(JSON, r#"{"lang":"En"}"#)
            .expect(415),
    );
    cases.push(
        form("as text/plain", lang)
            .body(TEXT, "lang=En")
            .expect(415),
    );
    cases.push(
        form("with no content type", lang)
            .body(None, "lang=En")
            .expect(415),
    );
    cases.push(
        form("over 256 KiB", lang)
            .body(FORM, oversized_json())
            .expect(413),
    );
    cases.push(
        form("over 256 KiB, chunked", lang)
            .body(FORM, oversized_json())
            .chunked()
            .expect(413),
    );
    for path in [
        "/api/operator/register_domain",
        "/api/operator/set_contact_group",
    ] {
        cases.push(
            form("missing contact group", path)
                .body(FORM, "name=x.example")
                .expect(422),
        );
        cases.push(
            form("missing name", path)
                .body(FORM, "contact_group=g")
                .expect(422),
        );
        cases.push(form("no fields", path).body(FORM, "").expect(422));
        cases.push(
            form("as JSON", path)
                .body(JSON, r#"{"name":"x","contact_group":"g"}"#)
                .expect(415),
        );
        cases.push(
            form("over 256 KiB, chunked", path)
                .body(FORM, oversized_json())
                .chunked()
                .expect(413),
        );
    }
    // The operators' SCIM tokens (R22).
    for path in ["/api/scim/create_token", "/api/scim/revoke_token"] {
        cases.push(form("missing name", path).body(FORM, "").expect(422));
        cases.push(
            form("name twice", path)
                .body(FORM, "name=a&name=b")
                .expect(422),
        );
        cases.push(
            form("as JSON", path)
                .body(JSON, r#"{"name":"entra"}"#)
                .expect(415),
        );
        cases.push(
            form("over 256 KiB, chunked", path)
                .body(FORM, oversized_json())
                .chunked()
                .expect(413),
        );
    }
    for path in [
        "/api/session",
        "/api/operator/list_domains",
        "/api/scim/tokens",
    ] {
        cases.push(form("as text/plain", path).body(TEXT, "x").expect(415));
        cases.push(form("as JSON", path).body(JSON, "{}").expect(415));
        cases.push(
            form("over 256 KiB, chunked", path)
                .body(FORM, oversized_json())
                .chunked()
                .expect(413),
        );
    }
    cases.push(Case::new("a server function by GET", role, "GET", "/api/rows/list").expect(405));
    cases.push(
        Case::new(
            "an unknown server function",
            role,
            "POST",
            "/api/no/such/function",
        )
        .body(JSON, "{}")
        .expect(404),
    );
    cases
}

fn route_cases(role: Role) -> Vec<Case> {
    let signed_in = role != Role::Anonymous;
    // Routes that need a session answer 401 before they look at their input.
    let or_401 = |status: u16| if signed_in { status } else { 401 };
    let case = |what: &str, method: &'static str, path: &str| {
        Case::new(format!("{method} {path} {what}"), role, method, path)
    };
    let login = "/auth/login";
    let csv = "/domains/example.org/csv";
    vec![
        case("missing password", "POST", login)
            .body(FORM, "username=nora")
            .expect(422),
        case("no fields", "POST", login).body(FORM, "").expect(422),
        case("as JSON", "POST", login)
            .body(JSON, r#"{"username":"nora","password":"x"}"#)
            .expect(415),
        case("as text/plain", "POST", login)
            .body(TEXT, "username=nora&password=x")
            .expect(415),
        case("over 256 KiB", "POST", login)
            .body(FORM, oversized_json())
            .expect(413),
        case("over 256 KiB, chunked", "POST", login)
            .body(FORM, oversized_json())
            .chunked()
            .expect(413),
        case("by GET", "GET", "/auth/logout").expect(405),
        case("id not a number", "GET", "/certificates/abc/download").expect(400),
        case(
            "id beyond i64",
            "GET",
            "/certificates/99999999999999999999/download",
        )
        .expect(400),
        case(
            "unknown format",
            "GET",
            "/certificates/1/download?format=xyz",
        )
        .expect(or_401(422)),
        case(
            "format twice",
            "GET",
            "/certificates/1/download?format=pem&format=der",
        )
        .expect(400),
        case("domain not UTF-8", "GET", "/domains/%ff%fe/csv").expect(400),
        case("domain not UTF-8", "GET", "/domains/%ff%fe/audit.csv").expect(400),
        case(
            "unknown download format",
            "GET",
            &format!("{csv}?format=xlsx"),
        )
        .expect(or_401(422)),
        case(
            "download format twice",
            "GET",
            &format!("{csv}?format=excel-de&format=excel-de"),
        )
        .expect(or_401(400)),
        case("unknown download option", "GET", &format!("{csv}?sheet=1")).expect(or_401(400)),
        case("empty file", "POST", &format!("{csv}/preview"))
            .body(Some("text/csv"), "")
            .expect(or_401(422)),
        case("apply naming no preview", "POST", &format!("{csv}/apply"))
            .body(Some("text/csv"), "E-Mail\nx@example.org\n")
            .expect(or_401(422)),
        case("over 20 MiB, chunked", "POST", &format!("{csv}/preview"))
            .body(
                Some("text/csv"),
                vec![b'a'; server::csv_routes::MAX_CSV_BYTES + 1],
            )
            .chunked()
            .expect(413),
        case("by POST", "POST", "/confirm/some-token").expect(405),
        case("by POST", "POST", "/health").expect(405),
    ]
}

/// Malformed heads: hyper refuses them before any handler runs.
fn head_cases() -> Vec<Case> {
    let big = "x".repeat(server::serve::MAX_HEADER_BYTES);
    let mut many = Case::new("150 headers of 40 bytes", Role::Anonymous, "GET", "/health");
    for i in 0..150 {
        many = many.header(format!("X-Filler-{i:03}: {}", "y".repeat(24)));
    }
    vec![
        Case::new("one header of 16 KiB", Role::Anonymous, "GET", "/health")
            .header(format!("X-Big: {big}"))
            .expect(431)
            .without_message(),
        Case::new("a cookie of 16 KiB", Role::Nap, "GET", "/")
            .header(format!("Cookie: other={big}"))
            .expect(431)
            .without_message(),
        Case::new(
            "a path of 16 KiB",
            Role::Anonymous,
            "GET",
            &format!("/{big}"),
        )
        .expect(431)
        .without_message(),
        many.expect(431).without_message(),
        Case::new(
            "a header name with a space",
            Role::Anonymous,
            "GET",
            "/health",
        )
        .header("Bad Name: x")
        .expect(400)
        .without_message(),
    ]
}

// ------------------------------------------------------------------ the tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q9_every_malformed_input_gets_a_4xx_with_a_message_and_the_portal_stays_healthy() {
    logs();
    let app = spawn_app().await;
    let sessions = Sessions {
        nap: app.cookie_for(Role::Nap).await.unwrap(),
        user: app.cookie_for(Role::User).await.unwrap(),
    };
    let mut cases = Vec::new();
    for role in [Role::Anonymous, Role::Nap] {
        cases.extend(server_function_cases(role));
        cases.extend(route_cases(role));
    }
    cases.extend(head_cases());

    let mut wrong = Vec::new();
    for case in &cases {
        let answer = send(&app, &sessions, case).await;
        let has_message = answer.body.chars().any(char::is_alphabetic);
        if answer.status != case.expect || (case.message && !has_message) {
            wrong.push(format!(
                "{:?} {}: expected {}, got {} {:?}",
                case.role,
                case.what,
                case.expect,
                answer.status,
                answer.body.chars().take(300).collect::<String>()
            ));
        }
    }
    println!("q9: {} malformed inputs sent", cases.len());
    assert!(cases.len() >= 100);
    assert!(
        wrong.is_empty(),
        "{} of {}:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );

    // Nothing above was a fault of the server, and it still serves.
    let errors: Vec<_> = captured_logs()
        .lines()
        .filter(|l| l.contains("ERROR"))
        .map(str::to_string)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let health = app.get(Role::Anonymous, "/health").await;
    assert_eq!(health.status(), 200);
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q9_a_refusal_reads_as_the_functions_own_error_with_a_message() {
    logs();
    let app = spawn_app().await;
    let sessions = Sessions {
        nap: app.cookie_for(Role::Nap).await.unwrap(),
        user: app.cookie_for(Role::User).await.unwrap(),
    };
    let list = Case::new("page -1", Role::Nap, "POST", "/api/rows/list").body(
        JSON,
        json!({"domain": "example.org", "query": with(table_query(), "/page", json!(-1))})
            .to_string(),
    );
    let answer = send(&app, &sessions, &list).await;
    assert_eq!(answer.status, 422);
    let error: app::error::AppError = serde_json::from_str(&answer.body).unwrap();
    let app::error::AppError::Invalid(message) = error else {
        panic!("{error:?}")
    };
    assert!(message.contains("-1"), "names the value: {message}");

    let lang =
        Case::new("lang=Fr", Role::Anonymous, "POST", "/api/set_language").body(FORM, "lang=Fr");
    let answer = send(&app, &sessions, &lang).await;
    assert_eq!(answer.status, 422);
    assert!(
        answer.body.contains("Fr"),
        "names the value: {}",
        answer.body
    );

    // A row form's refusal keeps the row form's error type, which the table page reads.
    let edit = Case::new("text/plain", Role::Nap, "POST", "/api/rows/edit").body(TEXT, "{}");
    let answer = send(&app, &sessions, &edit).await;
    assert_eq!(answer.status, 415);
    let error: app::rows_api::RowSaveError = serde_json::from_str(&answer.body).unwrap();
    assert!(error.to_string().contains("application/json"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q6_no_refusal_of_a_challenge_link_logs_its_token() {
    logs();
    let app = spawn_app().await;
    let sessions = Sessions {
        nap: app.cookie_for(Role::Nap).await.unwrap(),
        user: app.cookie_for(Role::User).await.unwrap(),
    };
    // Shaped like a real token (32 random bytes, URL-safe base64), and unknown to the portal.
    let token = "Q6k7Rk1nT0tlbk11c3ROb3RMZWFrMDEyMzQ1Njc4OWFi";
    let page = format!("/confirm/{token}");
    let body = json!({ "token": token }).to_string();
    let cases = [
        Case::new("page, anonymous", Role::Anonymous, "GET", &page).expect(200),
        Case::new("page, signed in, unknown token", Role::User, "GET", &page).expect(200),
        Case::new("POST from another origin", Role::User, "POST", &page)
            .header("Origin: https://evil.example")
            .expect(403),
        Case::new("POST from another site", Role::User, "POST", &page)
            .header("Origin: https://evil.example")
            .header("Sec-Fetch-Site: cross-site")
            .expect(403),
        Case::new("POST from an opaque origin", Role::Anonymous, "POST", &page)
            .header("Origin: null")
            .expect(403),
        Case::new("POST from the portal's own page", Role::User, "POST", &page).expect(405),
        Case::new(
            "confirm from another origin",
            Role::User,
            "POST",
            "/api/challenge/confirm",
        )
        .header("Origin: https://evil.example")
        .body(JSON, body.clone())
        .expect(403),
        Case::new(
            "confirm, anonymous",
            Role::Anonymous,
            "POST",
            "/api/challenge/confirm",
        )
        .body(JSON, body.clone())
        .expect(401),
        Case::new(
            "confirm, unknown token",
            Role::User,
            "POST",
            "/api/challenge/confirm",
        )
        .body(JSON, body.clone())
        .expect(422),
        Case::new(
            "info, unknown token",
            Role::User,
            "POST",
            "/api/challenge/info",
        )
        .body(JSON, body.clone())
        .expect(422),
        Case::new(
            "confirm as text/plain",
            Role::User,
            "POST",
            "/api/challenge/confirm",
        )
        .body(TEXT, body.clone())
        .expect(415),
        Case::new(
            "confirm, cut-off JSON",
            Role::User,
            "POST",
            "/api/challenge/confirm",
        )
        .body(JSON, &body.as_bytes()[..body.len() - 2])
        .expect(400),
        Case::new(
            "confirm, token as a list",
            Role::User,
            "POST",
            "/api/challenge/confirm",
        )
        .body(JSON, json!({ "token": [token] }).to_string())
        .expect(422),
    ];
    for case in &cases {
        let answer = send(&app, &sessions, case).await;
        assert_eq!(answer.status, case.expect, "{}: {}", case.what, answer.body);
    }

    let logs = captured_logs();
    assert!(!logs.contains(token), "the token is in the log");
    // The refusals were logged, by their route template.
    assert!(
        logs.lines()
            .any(|l| l.contains("cross-origin write refused")
                && l.contains("route=/confirm/{token}")),
        "{logs}"
    );
}
