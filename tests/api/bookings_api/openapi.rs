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
        ("/api/stats", "get", &[]),
    ];
    // Operations for admins only name the bearer scheme's `admin` role.
    let admins_only = ["/api/stats"];
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
            let roles: &[&str] = if admins_only.contains(&p.as_str()) {
                &["admin"]
            } else {
                &[]
            };
            assert_eq!(
                op["security"],
                json!([{ "bearer": roles }]),
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
        let names: Vec<&str> = match doc["paths"][*p][*m].get("parameters") {
            Some(list) => list
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["name"].as_str().unwrap())
                .collect(),
            None => Vec::new(),
        };
        assert_eq!(&names, params, "{m} {p}");
        let codes: &[&str] = if admins_only.contains(p) {
            &["200", "401", "403"]
        } else {
            &["200", "401"]
        };
        for code in codes {
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

    // `/api/stats` answers what its schema says: the same fields, a week's counts included.
    let (status, _, stats) = get(&app, "/api/stats", Some(ADMIN_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    let schemas = &doc["components"]["schemas"];
    let answer = &doc["paths"]["/api/stats"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    assert_eq!(answer["$ref"], "#/components/schemas/WeeklyStats");
    assert_eq!(
        schema_fields(schemas, &schemas["WeeklyStats"]),
        fields_of(&stats)
    );
    assert_eq!(
        schema_fields(schemas, &schemas["Week"]),
        fields_of(&stats["weeks"][0])
    );

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

/// The property names a schema gives an object, through `$ref`s and `allOf` (a flattened field).
fn schema_fields(schemas: &Value, schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        out.extend(schema_fields(schemas, &schemas[name]));
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        out.extend(schema_fields(schemas, part));
    }
    if let Some(props) = schema["properties"].as_object() {
        out.extend(props.keys().cloned());
    }
    out.sort();
    out
}

/// The keys of a JSON object, sorted.
fn fields_of(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("an object: {v}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}
