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
        let uri = format!("/api/v1{}", path.replace("{id}", "1"));
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
