//! `/docs` (Swagger UI) and `/redoc` (ReDoc), served entirely by this binary: both work with no
//! internet access.

use std::sync::Arc;

use warp::http::{HeaderValue, Method, StatusCode, header};
use warp::reply::Response;

use crate::error::ApiError;
use crate::request::Request;
use crate::state::AppState;

/// Where Swagger UI's files are served (`/docs/index.html`, `/docs/swagger-ui.css`, ...).
pub const SWAGGER_PREFIX: &str = "/docs/";
/// Where the ReDoc bundle is served.
pub const REDOC_JS_PATH: &str = "/redoc/redoc.standalone.js";

/// ReDoc 2.5.2's standalone bundle, from npm (`redoc@2.5.2`, `bundles/redoc.standalone.js`),
/// committed unmodified.
static REDOC_JS: &str = include_str!("../../assets/redoc.standalone.js");

/// The one outside resource the bundle loads: the "API docs by Redocly" logo.
const REDOC_LOGO_URL: &str = "https://cdn.redoc.ly/redoc/logo-mini.svg";

/// The bundle as served: its logo replaced by an empty inline image, so the page loads
/// nothing from outside (the rewrite happens once, at first use).
fn redoc_js() -> &'static str {
    static SERVED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SERVED.get_or_init(|| {
        REDOC_JS.replace(
            REDOC_LOGO_URL,
            "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E",
        )
    })
}

const REDOC_HTML: &str = r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8"/>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Orders &amp; Inventory Microservice - ReDoc</title>
    <style>body { margin: 0; padding: 0; }</style>
  </head>
  <body>
    <redoc spec-url="/openapi.json"></redoc>
    <script src="/redoc/redoc.standalone.js"></script>
  </body>
</html>
"#;

/// The Swagger UI configuration: our document, served from here.
pub fn swagger_config() -> Arc<utoipa_swagger_ui::Config<'static>> {
    // "none": no online validator badge, which would call an outside host.
    Arc::new(utoipa_swagger_ui::Config::from("/openapi.json").validator_url("none"))
}

fn file(status: StatusCode, content_type: &str, body: impl Into<bytes::Bytes>) -> Response {
    let mut r = Response::new(body.into().into());
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn html(body: &'static str) -> Response {
    file(StatusCode::OK, "text/html; charset=utf-8", body)
}

pub(super) fn redoc_index() -> Result<Response, ApiError> {
    Ok(html(REDOC_HTML))
}

pub(super) fn swagger_index(state: &AppState) -> Result<Response, ApiError> {
    let index = match utoipa_swagger_ui::serve("index.html", state.swagger.clone()) {
        Ok(Some(f)) => String::from_utf8_lossy(&f.bytes).into_owned(),
        Ok(None) => return Err(ApiError::NotFound),
        Err(e) => {
            return Err(ApiError::Core(inventory_core::Error::backend(
                e.to_string(),
            )));
        }
    };
    // The page is served at `/docs` (no trailing slash), where its relative links would
    // resolve to `/`; make them absolute under `/docs/`.
    let index = index
        .replace("\"./", "\"/docs/")
        .replace("href=\"index.css\"", "href=\"/docs/index.css\"");
    let mut r = Response::new(index.into());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(r)
}

fn swagger_file(state: &AppState, name: &str) -> Option<Result<Response, ApiError>> {
    match utoipa_swagger_ui::serve(name, state.swagger.clone()) {
        Ok(Some(f)) => Some(Ok(file(
            StatusCode::OK,
            &f.content_type,
            f.bytes.into_owned(),
        ))),
        Ok(None) => None,
        Err(e) => Some(Err(ApiError::Core(inventory_core::Error::backend(
            e.to_string(),
        )))),
    }
}

/// Serves the static files under `/docs/` and the ReDoc bundle; `None` for any other path.
pub(super) fn asset(state: &AppState, req: &Request) -> Option<Result<Response, ApiError>> {
    let seg: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let result = match seg.as_slice() {
        ["redoc", "redoc.standalone.js"] => Some(Ok(file(
            StatusCode::OK,
            "application/javascript; charset=utf-8",
            redoc_js(),
        ))),
        ["docs", name] => swagger_file(state, name),
        _ => None,
    }?;
    if req.method != Method::GET {
        return Some(Err(ApiError::MethodNotAllowed(&["GET"])));
    }
    Some(result)
}
