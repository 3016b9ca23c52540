//! `/docs` (Swagger UI) and `/redoc` (ReDoc) work with no internet: every asset comes from the
//! server itself, and every asset a page names is served.

use crate::helpers::TestApp;

both_backends!(docs_pages_load_only_from_the_server);

/// The values of `attr="..."` (or `'...'`, or unquoted) attributes in `html`.
fn attribute_values(html: &str, attr: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let needle = format!("{attr}=");
    let mut values = Vec::new();
    let mut from = 0;
    while let Some(found) = lower[from..].find(&needle) {
        let start = from + found;
        from = start + needle.len();
        // An attribute name starts after whitespace: `data-src=` is not `src=`.
        let preceded = lower[..start].chars().next_back();
        if !preceded.is_some_and(char::is_whitespace) {
            continue;
        }
        let rest = &html[from..];
        let value = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => rest[1..].split(quote).next().unwrap_or_default(),
            _ => rest
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or_default(),
        };
        values.push(value.trim().to_owned());
    }
    values
}

/// Removes `.` and `..` segments from an absolute path.
fn normalize(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        match *part {
            "." => {
                if last {
                    segments.push("");
                }
            }
            ".." => {
                segments.pop();
                if last {
                    segments.push("");
                }
            }
            other => segments.push(other),
        }
    }
    format!("/{}", segments.join("/"))
}

/// Where a reference on a page leads.
#[derive(Debug, PartialEq)]
enum Target {
    /// Nothing to fetch: a fragment, an inline `data:` URL, a script pseudo-URL.
    Inline,
    /// A path on this server.
    Local(String),
    /// Somewhere else: the page would not work offline.
    Outside(String),
}

fn resolve(reference: &str, base_path: &str, origins: &[String]) -> Target {
    let reference = reference.split('#').next().unwrap_or_default();
    let lower = reference.to_ascii_lowercase();
    if reference.is_empty()
        || ["data:", "javascript:", "blob:", "about:"]
            .iter()
            .any(|scheme| lower.starts_with(scheme))
    {
        return Target::Inline;
    }
    let absolute = if let Some(rest) = reference.strip_prefix("//") {
        Some(format!("http://{rest}"))
    } else if lower.starts_with("http://") || lower.starts_with("https://") || lower.contains("://")
    {
        Some(reference.to_owned())
    } else {
        None
    };
    if let Some(url) = absolute {
        return match origins.iter().find(|o| url.starts_with(o.as_str())) {
            Some(origin) => {
                let path = &url[origin.len()..];
                Target::Local(if path.is_empty() {
                    "/".into()
                } else {
                    path.to_owned()
                })
            }
            None => Target::Outside(reference.to_owned()),
        };
    }
    let (path, query) = match reference.split_once('?') {
        Some((path, query)) => (path, format!("?{query}")),
        None => (reference, String::new()),
    };
    let path = if path.starts_with('/') {
        normalize(path)
    } else {
        let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        normalize(&format!("{dir}{path}"))
    };
    Target::Local(format!("{path}{query}"))
}

#[test]
fn references_resolve_like_a_browser() {
    let origins = vec!["http://127.0.0.1:9".to_owned()];
    let local = |s: &str| Target::Local(s.to_owned());
    assert_eq!(resolve("./a.css", "/docs", &origins), local("/a.css"));
    assert_eq!(resolve("./a.css", "/docs/", &origins), local("/docs/a.css"));
    assert_eq!(
        resolve("a.js?v=1", "/docs/", &origins),
        local("/docs/a.js?v=1")
    );
    assert_eq!(
        resolve("../x/y.js", "/docs/index.html", &origins),
        local("/x/y.js")
    );
    assert_eq!(
        resolve("/openapi.json", "/redoc", &origins),
        local("/openapi.json")
    );
    assert_eq!(
        resolve("http://127.0.0.1:9/r.js", "/redoc", &origins),
        local("/r.js")
    );
    assert_eq!(resolve("#top", "/redoc", &origins), Target::Inline);
    assert_eq!(
        resolve("data:image/png;base64,AA", "/docs", &origins),
        Target::Inline
    );
    let cdn = "https://cdn.jsdelivr.net/npm/redoc/bundles/redoc.standalone.js";
    assert_eq!(
        resolve(cdn, "/redoc", &origins),
        Target::Outside(cdn.to_owned())
    );
    let fonts = "//fonts.googleapis.com/css";
    assert_eq!(
        resolve(fonts, "/redoc", &origins),
        Target::Outside(fonts.to_owned())
    );
    assert_eq!(
        attribute_values("<a href=\"x\" data-src='no'><img src=y.png>", "src"),
        vec!["y.png".to_owned()]
    );
}

/// The `href` of the page's `<base>` element, if it has one.
fn base_href(html: &str) -> Option<String> {
    let start = html.to_ascii_lowercase().find("<base")?;
    let tag = &html[start..];
    let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
    attribute_values(tag, "href").into_iter().next()
}

/// Every `http://` or `https://` URL written anywhere in the page, except XML namespaces.
fn absolute_urls(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut urls = Vec::new();
    for scheme in ["http://", "https://"] {
        let mut from = 0;
        while let Some(found) = lower[from..].find(scheme) {
            let start = from + found;
            let end = html[start..]
                .find(|c: char| c.is_whitespace() || "\"'<>()`".contains(c))
                .map_or(html.len(), |i| start + i);
            urls.push(html[start..end].to_owned());
            from = end.max(start + scheme.len());
        }
    }
    urls.retain(|url| !url.starts_with("http://www.w3.org/"));
    urls
}

/// Whether `text` sets Swagger UI's `validatorUrl` to `"none"` or `null`.
fn disables_validator(text: &str) -> bool {
    text.match_indices("validatorUrl").any(|(at, name)| {
        let rest = text[at + name.len()..]
            .trim_start_matches(['"', '\''])
            .trim_start();
        let Some(value) = rest.strip_prefix(':') else {
            return false;
        };
        let value = value.trim_start();
        ["null", "\"none\"", "'none'"]
            .iter()
            .any(|v| value.starts_with(v))
    })
}

#[test]
fn validator_setting_is_recognised() {
    assert!(disables_validator(
        r#"SwaggerUIBundle({"url": "/o", "validatorUrl": "none"})"#
    ));
    assert!(disables_validator(
        "SwaggerUIBundle({ validatorUrl: null })"
    ));
    assert!(!disables_validator(r#"{"url": "/openapi.json"}"#));
    assert!(!disables_validator(
        r#"{"validatorUrl": "https://validator.swagger.io"}"#
    ));
}

async fn docs_pages_load_only_from_the_server(app: TestApp) {
    let origins = vec![
        app.address.clone(),
        format!("http://localhost:{}", app.port),
    ];
    let mut problems = Vec::new();
    for page in ["/docs", "/docs/", "/redoc", "/redoc/"] {
        let reply = app.get(page).await;
        reply.assert_status(200);
        let content_type = reply.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("text/html"),
            "{page}: HTML, got {content_type:?}"
        );
        let html = &reply.text;
        assert!(
            html.to_ascii_lowercase().contains("<html"),
            "{page}: an HTML page"
        );

        for url in absolute_urls(html) {
            if !origins.iter().any(|o| url.starts_with(o.as_str())) {
                problems.push(format!("{page}: refers to an outside host: {url}"));
            }
        }
        let base_path = match base_href(html).map(|b| resolve(&b, page, &origins)) {
            Some(Target::Local(path)) => path,
            _ => page.to_owned(),
        };
        let mut references = Vec::new();
        for attr in ["src", "href", "spec-url"] {
            references.extend(attribute_values(html, attr));
        }
        assert!(
            !references.is_empty(),
            "{page}: a documentation page loads its script from somewhere"
        );
        // Configuration written for this server (not a vendored bundle) is small.
        let mut configuration = html.clone();
        for reference in references {
            match resolve(&reference, &base_path, &origins) {
                Target::Inline => {}
                Target::Outside(url) => problems.push(format!("{page}: loads {url}")),
                Target::Local(path) => {
                    let asset = app.get(&path).await;
                    if path.ends_with(".js") && asset.text.len() < 64 * 1024 {
                        configuration.push_str(&asset.text);
                    }
                    if asset.status != 200 {
                        problems.push(format!(
                            "{page}: `{reference}` resolves to {path}, which answers {}",
                            asset.status
                        ));
                    } else if asset.text.trim().is_empty() {
                        problems.push(format!("{page}: {path} is empty"));
                    }
                }
            }
        }
        // Swagger UI's default `validatorUrl` is https://validator.swagger.io: on any host but
        // localhost the page loads a badge from there (and hands it the spec's URL).
        if page.starts_with("/docs") && !disables_validator(&configuration) {
            problems.push(format!(
                "{page}: Swagger UI keeps its online validator (validatorUrl not \"none\"), \
                 an outside host"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "the docs pages would not work offline:\n{}",
        problems.join("\n")
    );
}

both_backends!(redoc_bundle_loads_nothing_from_outside);

/// The vendored ReDoc bundle shows a "Redocly" logo from a CDN; the served copy must not.
async fn redoc_bundle_loads_nothing_from_outside(app: TestApp) {
    let bundle = app.get("/redoc/redoc.standalone.js").await;
    bundle.assert_status(200);
    for pattern in [
        "src:\"http://",
        "src:\"https://",
        "url(http",
        "cdn.redoc.ly",
    ] {
        assert!(
            !bundle.text.contains(pattern),
            "the served ReDoc bundle loads `{pattern}…`"
        );
    }
    assert!(bundle.text.len() > 500_000, "the whole bundle is served");
}
