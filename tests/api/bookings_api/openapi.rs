//! The OpenAPI document against the routes and the committed copy.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// The document at `/api/openapi.json` describes exactly the API routes the server answers, with
/// their parameters, and equals the reviewed copy in `docs/openapi.json`
/// (`UPDATE_OPENAPI=1 cargo test openapi` rewrites it after a deliberate change).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_matches_the_routes_and_the_committed_copy() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let res = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "served without sign-in");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = res.json().await.unwrap();

    // The operations the API serves, with their parameters: all in the document, nothing else.
    let expected: &[(&str, &str, &[&str])] = &[
        (
            "/api/bookings",
            "get",
            &[
                "status",
                "from",
                "to",
                "attendee_email",
                "order",
                "limit",
                "cursor",
            ],
        ),
        ("/api/bookings/{uid}", "get", &["uid"]),
        ("/api/bookings/{uid}/history", "get", &["uid"]),
    ];
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (p, item) in paths {
        for (m, op) in item.as_object().unwrap() {
            documented.push((p.clone(), m.clone()));
            // Every documented operation is served: without a token it is 401, not 404/405.
            let url = p.replace("{uid}", "some-uid");
            let req = app
                .client
                .request(m.to_uppercase().parse().unwrap(), app.url(&url));
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{m} {p} is served");
            assert_eq!(
                op["security"],
                json!([{"bearer": []}]),
                "{m} {p} declares the bearer scheme"
            );
        }
    }
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(p, m, _)| (p.to_string(), m.to_string()))
        .collect();
    want.sort();
    documented.sort();
    assert_eq!(documented, want);
    for (p, m, params) in expected {
        let names: Vec<&str> = doc["paths"][*p][*m]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{m} {p} has parameters"))
            .iter()
            .map(|x| x["name"].as_str().unwrap())
            .collect();
        assert_eq!(&names, params, "{m} {p}");
        for code in ["200", "401"] {
            assert!(
                doc["paths"][*p][*m]["responses"][code].is_object(),
                "{m} {p} documents {code}"
            );
        }
    }
    // Methods the API does not serve are not served.
    let res = app
        .client
        .post(app.url("/api/bookings"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    // Every schema reference resolves.
    fn refs<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for r in found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "$ref {r} resolves"
        );
    }

    let file = format!("{}/docs/openapi.json", env!("CARGO_MANIFEST_DIR"));
    let pretty = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::create_dir_all(format!("{}/docs", env!("CARGO_MANIFEST_DIR"))).unwrap();
        std::fs::write(&file, &pretty).unwrap();
    }
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}")),
    )
    .unwrap();
    assert!(
        committed == doc,
        "docs/openapi.json differs from the generated document; review the change and run \
         `UPDATE_OPENAPI=1 cargo test openapi` to update it"
    );
}
