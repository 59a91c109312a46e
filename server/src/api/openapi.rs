//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' `#[utoipa::path]`
//! annotations and the types they send and take (utoipa), so it cannot drift from the code.
//! Served at `/api/v1/openapi.json` without a token: it describes the API and holds no data.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::problem::{FieldProblem, Problem};

/// The document's fixed parts; the paths come from the router (mod.rs).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "RA portal API",
        version = "1",
        description = "The REST API of the RA portal \"My Email Domains\" (SPEC R21): a domain's \
            address table, challenges, certificates and audit trail, for an IdM or a script. \
            Authenticate with an API token a contact person (NAP) made on the portal: \
            `Authorization: Bearer raapi_…`. A token reaches only its domains, and only while \
            its creator is a NAP of them; a read-only token gets 403 on every change. The same \
            rules apply as in the portal's pages, and every change is in the domain's audit \
            trail with the token as actor. Refusals are RFC 9457 problem details \
            (application/problem+json). All the tokens of one person share one rate limit (429 with Retry-After).",
        license(name = "proprietary")
    ),
    servers((url = "/api/v1", description = "This portal")),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(Problem, FieldProblem)),
    tags(
        (name = "domains", description = "The domains a token reaches"),
        (name = "rows", description = "A domain's address table (SPEC §2)"),
        (name = "challenges", description = "Challenge rounds and address states (SPEC §3)"),
        (name = "certificates", description = "A domain's certificates (SPEC §5)"),
        (name = "audit", description = "A domain's audit trail (R16)"),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme every operation requires.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (raapi_…) made on the portal's API tokens page.",
                    ))
                    .build(),
            ),
        );
    }
}

/// What every operation may answer besides its own statuses, added once the routes' paths are in
/// the document: 431 when the request head (URL and headers) is larger than the portal takes
/// (serve.rs answers it before any routing, Q9).
pub fn add_common_responses(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::ResponseBuilder;
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            operation
                .responses
                .responses
                .entry("431".to_owned())
                .or_insert_with(|| {
                    ResponseBuilder::new()
                        .description(
                            "The request head (URL and headers) is larger than the portal takes; \
                             answered before routing, without a body",
                        )
                        .build()
                        .into()
                });
        }
    }
}
