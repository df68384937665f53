//! The API's OpenAPI 3.1 document, generated from the handlers' annotations, served at
//! `/api/openapi.json`, and Swagger UI at `/api/docs` with its assets compiled into the binary
//! (no CDN).

use axum::Router;
use utoipa::{
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
    Modify, OpenApi,
};
use utoipa_swagger_ui::SwaggerUi;

use crate::{api, api_jobs, callbacks, tinify};

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Slimage API",
        version = "1",
        description = "Image compression. `/shrink` and `/output/{id}` speak TinyPNG's protocol, so \
            Tinify's clients work by changing their endpoint; `/api/v1/jobs` compresses many files \
            in the background. Authenticate with an API key from the account page, as HTTP Basic \
            (user `api`, password the key) or as `Authorization: Bearer KEY`. Errors are \
            `{\"error\": CODE, \"message\": TEXT}`.\n\n\
            **Callbacks.** A job created with a `callback_url` is POSTed there when every file is \
            done or failed, as `CallbackBody` (`{\"event\":\"job.finished\",\"job\":{…}}`), with \
            `Slimage-Signature: t=<unix seconds>,v1=<hex>` where `v1` is HMAC-SHA256 of \
            `<t>.<raw body>` keyed with your callback signing secret (account page, API keys). \
            Compare in constant time and refuse old timestamps. A non-2xx answer is retried after \
            10 s, 30 s, 90 s, … (8 attempts, about 3 hours).",
    ),
    paths(
        tinify::shrink,
        tinify::output,
        tinify::transform,
        api::account,
        api_jobs::create,
        api_jobs::get_job,
        api_jobs::archive,
        api_jobs::delete,
    ),
    components(schemas(callbacks::CallbackBody)),
    modifiers(&KeyAuth),
    tags(
        (name = "Tinify-compatible", description = "TinyPNG's HTTP API: compress one image, then download or transform it."),
        (name = "Batch jobs", description = "Many files per request, compressed in the background; poll, or get a signed callback."),
        (name = "Account", description = "The key's account and usage."),
    )
)]
pub struct ApiDoc;

/// The `api_key` security scheme: HTTP Basic with user `api` (Tinify's way); a Bearer token is
/// accepted too.
struct KeyAuth;

impl Modify for KeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

/// `/api/openapi.json` and `/api/docs`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    SwaggerUi::new("/api/docs")
        .url("/api/openapi.json", ApiDoc::openapi())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_and_names_every_api_route() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = doc["paths"].as_object().unwrap();
        for (path, method) in [
            ("/shrink", "post"),
            ("/output/{id}", "get"),
            ("/output/{id}", "post"),
            ("/api/v1/account", "get"),
            ("/api/v1/jobs", "post"),
            ("/api/v1/jobs/{id}", "get"),
            ("/api/v1/jobs/{id}", "delete"),
            ("/api/v1/jobs/{id}/archive.zip", "get"),
        ] {
            assert!(paths[path][method].is_object(), "{method} {path}");
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["api_key"]["scheme"],
            "basic"
        );
    }
}
