//! The page chrome: header with navigation, and footer.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::session::use_auth;

/// Slimage's mark: a square shrinking into a smaller one.
#[component]
pub fn Logo() -> impl IntoView {
    view! {
        <svg viewBox="0 0 32 32" class="h-8 w-8" aria-hidden="true">
            <rect x="2" y="2" width="28" height="28" rx="7" class="fill-indigo-600" />
            <rect x="9" y="9" width="14" height="14" rx="3.5" class="fill-white" />
            <rect x="13" y="13" width="6" height="6" rx="1.5" class="fill-emerald-400" />
        </svg>
    }
}

/// The site header: product name and the main navigation.
#[component]
pub fn Header() -> impl IntoView {
    let link = "rounded-md px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-100 \
                hover:text-slate-900 aria-[current=page]:text-indigo-700";
    view! {
        <header class="border-b border-slate-200 bg-white/90 backdrop-blur">
            <div class="mx-auto flex max-w-6xl flex-wrap items-center justify-between gap-3 px-4 py-3 sm:px-6">
                <A href="/" attr:class="flex items-center gap-2" attr:aria-label="Slimage home">
                    <Logo />
                    <span class="text-xl font-bold tracking-tight text-slate-900">"Slimage"</span>
                </A>
                <nav aria-label="Main" class="flex flex-wrap items-center gap-1">
                    <A href="/compress" attr:class=link>"Compress"</A>
                    <A href="/pricing" attr:class=link>"Pricing"</A>
                    <Transition fallback=|| ()>
                        <AccountLinks link />
                    </Transition>
                </nav>
            </div>
        </header>
    }
}

/// "Log in / Sign up" for visitors, "Account / Log out" for a signed-in user.
#[component]
fn AccountLinks(link: &'static str) -> impl IntoView {
    let auth = use_auth();
    let primary =
        "ml-1 rounded-md bg-indigo-600 px-3 py-2 text-sm font-semibold text-white shadow-sm \
                   hover:bg-indigo-500 focus-visible:outline focus-visible:outline-2 \
                   focus-visible:outline-offset-2 focus-visible:outline-indigo-600";
    move || {
        Suspend::new(async move {
            match auth.account.await {
                Ok(Some(account)) => view! {
                    <A href="/history" attr:class=link>"Jobs"</A>
                    <A href="/account" attr:class=link attr:title=account.email.clone()>
                        "Account"
                    </A>
                    <ActionForm action=auth.log_out attr:class="inline">
                        <button type="submit" class=link>"Log out"</button>
                    </ActionForm>
                }
                .into_any(),
                _ => view! {
                    <A href="/login" attr:class=link>"Log in"</A>
                    <A href="/signup" attr:class=primary>"Sign up"</A>
                }
                .into_any(),
            }
        })
    }
}

/// The site footer.
#[component]
pub fn Footer() -> impl IntoView {
    view! {
        <footer class="border-t border-slate-200 bg-white">
            <div class="mx-auto flex max-w-6xl flex-col gap-4 px-4 py-8 text-sm text-slate-500 sm:flex-row sm:items-center sm:justify-between sm:px-6">
                <div class="flex items-center gap-2">
                    <Logo />
                    <span>"Slimage — smaller images, same pictures."</span>
                </div>
                <nav aria-label="Footer" class="flex flex-wrap gap-4">
                    <a href="/pricing" class="hover:text-slate-900">"Pricing"</a>
                    <a href="/api/docs" class="hover:text-slate-900">"API"</a>
                    <a href="/healthz" class="hover:text-slate-900">"Status"</a>
                </nav>
            </div>
        </footer>
    }
}
