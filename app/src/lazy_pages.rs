//! The pages whose code the browser loads only when one is shown (SPEC P4): the table page, which
//! NAPs open most, and the small start and domain-list pages are in the main WASM module; the
//! certificates, audit, operator, API-token, confirmation and sign-in pages each come as a module
//! of their own (`build-site` splits the client at these `#[lazy_route]`s). On the server they
//! render as any page.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::hydrated::mark_hydrated;
use crate::pages::api_tokens::ApiTokensPage;
use crate::pages::audit::AuditPage;
use crate::pages::certificates::MyCertificatesPage;
use crate::pages::confirm::ConfirmPage;
use crate::pages::login::LoginPage;
use crate::pages::operator::OperatorPage;

/// A route whose page component is loaded with its own module. The page loads its data itself
/// (resources in the component), so the route has none to start beforehand.
macro_rules! lazy_page {
    ($(#[$doc:meta])* $route:ident => $page:ident) => {
        $(#[$doc])*
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                // Here, not in `App`: this page hydrates only once its module has arrived.
                mark_hydrated();
                view! { <$page/> }.into_any()
            }
        }
    };
}

lazy_page!(
    /// `/certificates`
    CertificatesRoute => MyCertificatesPage
);
lazy_page!(
    /// `/domains/:domain/audit`
    AuditRoute => AuditPage
);
lazy_page!(
    /// `/operator`
    OperatorRoute => OperatorPage
);
lazy_page!(
    /// `/api-tokens`
    ApiTokensRoute => ApiTokensPage
);
lazy_page!(
    /// `/confirm/:token`
    ConfirmRoute => ConfirmPage
);
lazy_page!(
    /// `/login`
    LoginRoute => LoginPage
);
