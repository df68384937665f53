//! Who is signed in, for every page: the account resource, provided once under the router so
//! that the header and the pages agree. It is fetched again after every navigation (each form that
//! signs in or out ends with a redirect) and after the header's log-out button.
//!
//! The forms' actions are created by their pages, inside `<Routes>`: only there does a
//! `ServerAction` find the error a no-JavaScript post left in the URL.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_query_map};

use crate::{
    auth::{Account, LogOut},
    components::form::Notice,
    error::AppError,
};

/// The signed-in state.
#[derive(Clone, Copy)]
pub struct AuthContext {
    /// The header's log-out button.
    pub log_out: ServerAction<LogOut>,
    /// The signed-in account, or `None`.
    pub account: Resource<Result<Option<Account>, AppError>>,
}

/// Creates the account resource and provides it to everything below.
pub fn provide_auth() {
    let log_out = ServerAction::<LogOut>::new();
    let location = use_location();
    // The server renders one address per request, so there the source is constant; tracking the
    // router's location while rendering let the resource restart mid-render, and a page waiting
    // on the first run then occasionally never finished.
    let account = Resource::new(
        move || {
            let pathname = if cfg!(feature = "ssr") {
                String::new()
            } else {
                location.pathname.get()
            };
            (pathname, log_out.version().get())
        },
        |_| crate::auth::current_account(),
    );
    provide_context(AuthContext { log_out, account });
}

/// The context made by [`provide_auth`].
pub fn use_auth() -> AuthContext {
    expect_context::<AuthContext>()
}

/// The message for a `?notice=` left by a redirect after a form succeeded.
pub fn notice_text(code: &str) -> Option<&'static str> {
    match code {
        "password-changed" => Some("Your password was changed. Other devices were signed out."),
        "password-reset" => {
            Some("Your new password is set and you are signed in. Other devices were signed out.")
        }
        "account-deleted" => Some("Your account and everything in it were deleted."),
        "subscription-cancelled" => Some(
            "Your subscription is cancelled: you keep your plan until the end of the period you paid for.",
        ),
        "subscription-resumed" => Some("Your subscription continues: it renews as before."),
        "checkout-cancelled" => Some("Checkout was cancelled: nothing was charged."),
        _ => None,
    }
}

/// Shows the notice named in the address, if any.
#[component]
pub fn QueryNotice() -> impl IntoView {
    let query = use_query_map();
    let message = Signal::derive(move || {
        query
            .read()
            .get("notice")
            .and_then(|code| notice_text(&code))
            .map(str::to_string)
    });
    view! {
        <Show when=move || message.get().is_some()>
            <div class="mx-auto max-w-md px-4 pt-6">
                <Notice message=message />
            </div>
        </Show>
    }
}
