//! The served OpenAPI document matches the router.

use std::collections::BTreeSet;

use super::*;

#[tokio::test]
async fn openapi_covers_every_route() {
    let app = test_app().await;
    let (status, _, doc) = app.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    let routes = super::super::api_routes();
    let route_paths: BTreeSet<&str> = routes.iter().map(|(p, _)| *p).collect();
    let doc_paths: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
    assert_eq!(route_paths, doc_paths);

    // Each method the router takes is documented, and no other: asked
    // without signing in, an undocumented method answers 405 and a
    // documented one anything else.
    for path in route_paths {
        let uri = format!(
            "/api/v1{}",
            path.replace("{id}", "1").replace("{role}", "agent")
        );
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            let documented = paths[path].get(method.to_ascii_lowercase()).is_some();
            let (status, _, json) = app.call(method, &uri, None, None).await;
            if documented {
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                assert_ne!(status, StatusCode::NOT_FOUND, "{method} {path}");
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is not documented"
                );
                assert_eq!(json["code"], "method_not_allowed");
            }
        }
    }

    // Every reference resolves.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = doc.to_string();
    for part in text.split("#/components/schemas/").skip(1) {
        let name: String = part.chars().take_while(|c| *c != '"').collect();
        assert!(
            schemas.contains_key(&name),
            "{name} is referenced but not defined"
        );
    }
}

/// Each operation's documented access is what its handler enforces: asked
/// without signing in, as an agent and as a supervisor, a handler refuses
/// exactly the callers its `Access` leaves out, with the API's codes.
#[tokio::test]
async fn documented_access_is_what_each_handler_enforces() {
    use super::super::openapi::{Access, Answer, OPERATIONS};

    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let (_, supervisor) = app.account(&admin, "sue", "supervisor").await;
    let code = |json: &serde_json::Value| json["code"].as_str().unwrap_or("").to_owned();
    for op in OPERATIONS {
        let method = op.method.to_ascii_uppercase();
        let uri = format!(
            "/api/v1{}",
            op.path.replace("{id}", "1").replace("{role}", "agent")
        );
        let what = format!("{method} {}", op.path);
        let (status, _, json) = app.call(&method, &uri, None, None).await;
        if op.access == Access::Public {
            assert_ne!(code(&json), "not_signed_in", "{what} is public");
            // Public operations include signing out: not asked with a cookie.
            continue;
        }
        assert_eq!(
            (status, code(&json).as_str()),
            (StatusCode::UNAUTHORIZED, "not_signed_in"),
            "{what} without signing in"
        );
        let (status, _, json) = app.call(&method, &uri, Some(&agent), None).await;
        if matches!(op.access, Access::Admin | Access::Reader) {
            assert_eq!(
                (status, code(&json).as_str()),
                (StatusCode::FORBIDDEN, "forbidden"),
                "{what} as an agent"
            );
        } else {
            assert_ne!(status, StatusCode::FORBIDDEN, "{what} as an agent");
        }
        // An event stream never ends: its refusals are checked above.
        if matches!(op.answer, Answer::Events(_)) {
            continue;
        }
        let (status, _, json) = app.call(&method, &uri, Some(&supervisor), None).await;
        if op.access == Access::Admin {
            assert_eq!(
                (status, code(&json).as_str()),
                (StatusCode::FORBIDDEN, "forbidden"),
                "{what} as a supervisor"
            );
        } else {
            assert_ne!(status, StatusCode::FORBIDDEN, "{what} as a supervisor");
        }
    }
}
