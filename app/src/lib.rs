//! Slimage's Leptos application, shared by the server (feature `ssr`) and the browser (`hydrate`).
//!
//! Pages and components render on the server and hydrate in the browser; everything that must
//! never reach the browser lives in [`ssr`], compiled only with the `ssr` feature.
#![forbid(unsafe_code)]

pub mod components;
pub mod error;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

use components::layout::{Footer, Header};
use pages::{home::HomePage, not_found::NotFound};

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

/// The application: page chrome around the router.
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
            <div class="flex min-h-full flex-col">
                <Header />
                <main class="flex-1">
                    <Routes fallback=NotFound>
                        <Route path=path!("/") view=HomePage />
                    </Routes>
                </main>
                <Footer />
            </div>
        </Router>
    }
}
