//! Slimage's Leptos application, shared by the server (feature `ssr`) and the browser (`hydrate`).
//!
//! Pages and components render on the server and hydrate in the browser; everything that must
//! never reach the browser lives in [`ssr`], compiled only with the `ssr` feature.
#![forbid(unsafe_code)]
// The compress page's view types nest deeply.
#![recursion_limit = "256"]

pub mod auth;
pub mod billing;
#[cfg(feature = "hydrate")]
pub mod browser;
pub mod components;
pub mod compress;
pub mod error;
pub mod history;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod validate;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

use components::{
    layout::{Footer, Header},
    session::{provide_auth, QueryNotice},
};
use pages::{
    account::AccountPage,
    auth::{ForgotPasswordPage, LogInPage, ResetPasswordPage, SignUpPage},
    billing::BillingSuccessPage,
    compress::CompressPage,
    history::HistoryPage,
    home::HomePage,
    job::JobPage,
    not_found::NotFound,
    pricing::PricingPage,
};

/// The HTML document around the application; the server renders it for every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en" class="h-full">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="h-full bg-slate-50 text-slate-900 antialiased">
                <App />
            </body>
        </html>
    }
}

/// The application: page chrome around the router. Every route renders in `SsrMode::Async`:
/// the whole page, resources resolved, in one response, so that it is complete and its forms
/// work without JavaScript (streamed fragments would need JavaScript to be put in place).
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Stylesheet id="leptos" href="/pkg/slimage.css" />
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Meta
            name="description"
            content="Slimage makes PNG, JPEG, WebP and AVIF images much smaller without visible loss."
        />
        <Title formatter=|title: String| {
            if title.is_empty() { "Slimage".to_string() } else { format!("{title} · Slimage") }
        } />
        <Router>
            <AuthProvider>
                <div class="flex min-h-full flex-col">
                    <Header />
                    <main class="flex-1">
                        <QueryNotice />
                        <Routes fallback=NotFound>
                            <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                            <Route path=path!("/signup") view=SignUpPage ssr=SsrMode::Async />
                            <Route path=path!("/login") view=LogInPage ssr=SsrMode::Async />
                            <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async />
                            <Route path=path!("/reset-password") view=ResetPasswordPage ssr=SsrMode::Async />
                            <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async />
                            <Route path=path!("/pricing") view=PricingPage ssr=SsrMode::Async />
                            <Route path=path!("/billing/success") view=BillingSuccessPage ssr=SsrMode::Async />
                            <Route path=path!("/compress") view=CompressPage ssr=SsrMode::Async />
                            <Route path=path!("/jobs/:id") view=JobPage ssr=SsrMode::Async />
                            <Route path=path!("/history") view=HistoryPage ssr=SsrMode::Async />
                        </Routes>
                    </main>
                    <Footer />
                </div>
            </AuthProvider>
        </Router>
    }
}

/// Provides the signed-in state under the router (server actions read errors from the URL).
#[component]
fn AuthProvider(children: Children) -> impl IntoView {
    provide_auth();
    children()
}
