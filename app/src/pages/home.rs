//! The landing page: what Slimage does, for whom, and how to start.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    components::faq::{Faq, FaqEntry},
    pages::compress::CompressorSection,
};

struct Feature {
    title: &'static str,
    text: &'static str,
}

const FEATURES: [Feature; 6] = [
    Feature {
        title: "Quality you can measure",
        text: "Every file is scored with SSIMULACRA2, a perceptual metric, and compressed only as far as the score stays visually lossless. You see the score next to each result.",
    },
    Feature {
        title: "One image or a whole folder",
        text: "Drop a single screenshot or a folder of hundreds of photos. Folder structure is kept, and each file shows its own progress.",
    },
    Feature {
        title: "Before and after, side by side",
        text: "Drag the compare slider over any result and zoom to 100 % before you download.",
    },
    Feature {
        title: "PNG, JPEG, WebP and AVIF",
        text: "Keep the format you have, or let Slimage pick the smallest one that still looks the same. Transparency is never flattened behind your back.",
    },
    Feature {
        title: "An API your code already speaks",
        text: "The developer API follows TinyPNG's protocol, so existing Tinify clients switch with one line of configuration.",
    },
    Feature {
        title: "Your files do not linger",
        text: "Originals and results are deleted when your plan's retention ends, or the moment you delete the job.",
    },
];

const STEPS: [(&str, &str); 3] = [
    (
        "Drop",
        "Drag images or folders onto the page, pick a file, or paste from the clipboard.",
    ),
    (
        "Shrink",
        "Slimage searches for the smallest file that still scores as visually identical.",
    ),
    (
        "Download",
        "Take each file, or everything at once as a ZIP with your folders intact.",
    ),
];

fn faq_entries() -> Vec<FaqEntry> {
    vec![
        FaqEntry {
            question: "Will my images look worse?",
            answer: "No visible difference is the goal, and it is checked rather than assumed: each result is compared with its original by a perceptual metric, and a file that cannot be made smaller without visible loss is returned unchanged.",
        },
        FaqEntry {
            question: "Which formats can I upload?",
            answer: "PNG, JPEG, WebP, GIF, BMP and TIFF. Slimage recognises a file by its contents, not by its name, and tells you clearly when something is not an image it can read.",
        },
        FaqEntry {
            question: "What happens to my files?",
            answer: "They are stored only as long as your plan's retention (one hour on the free plan) and are deleted afterwards. Deleting a job deletes its files at once.",
        },
        FaqEntry {
            question: "Can I run Slimage myself?",
            answer: "Yes. One binary runs the whole service with SQLite and a local folder; larger installations use PostgreSQL and S3-compatible storage with as many web and worker processes as they need.",
        },
    ]
}

/// The landing page.
#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="Compress images without visible loss" />
        <section class="bg-gradient-to-b from-indigo-50 to-slate-50">
            <div class="mx-auto max-w-6xl px-4 py-16 sm:px-6 sm:py-24">
                <p class="text-sm font-semibold uppercase tracking-wide text-indigo-600">
                    "Image compression, measured"
                </p>
                <h1 class="mt-3 max-w-3xl text-4xl font-extrabold tracking-tight text-slate-900 sm:text-5xl">
                    "Smaller images. The same pictures."
                </h1>
                <p class="mt-6 max-w-2xl text-lg text-slate-600">
                    "Slimage shrinks PNG, JPEG, WebP and AVIF files as far as they can go while still looking identical to the eye — "
                    "and shows you the measured quality of every result."
                </p>
                <div class="mt-8 flex flex-wrap gap-3">
                    <a
                        href="/signup"
                        class="rounded-md bg-indigo-600 px-5 py-3 text-base font-semibold text-white shadow-sm hover:bg-indigo-500"
                    >
                        "Start compressing for free"
                    </a>
                    <a
                        href="/pricing"
                        class="rounded-md bg-white px-5 py-3 text-base font-semibold text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 hover:bg-slate-50"
                    >
                        "See plans"
                    </a>
                </div>
                <div class="mt-10" id="try">
                    <CompressorSection />
                </div>
                <ol class="mt-14 grid gap-4 sm:grid-cols-3">
                    {STEPS
                        .iter()
                        .enumerate()
                        .map(|(i, (title, text))| {
                            view! {
                                <li class="rounded-xl bg-white p-5 shadow-sm ring-1 ring-slate-200">
                                    <span class="flex h-8 w-8 items-center justify-center rounded-full bg-indigo-600 text-sm font-bold text-white">
                                        {i + 1}
                                    </span>
                                    <h2 class="mt-3 font-semibold text-slate-900">{*title}</h2>
                                    <p class="mt-1 text-sm text-slate-600">{*text}</p>
                                </li>
                            }
                        })
                        .collect_view()}
                </ol>
            </div>
        </section>
        <section class="mx-auto max-w-6xl px-4 py-16 sm:px-6" aria-labelledby="features-heading">
            <h2 id="features-heading" class="text-2xl font-bold tracking-tight text-slate-900">
                "Why Slimage"
            </h2>
            <div class="mt-8 grid gap-6 sm:grid-cols-2 lg:grid-cols-3">
                {FEATURES
                    .iter()
                    .map(|f| {
                        view! {
                            <div class="rounded-xl bg-white p-6 shadow-sm ring-1 ring-slate-200">
                                <h3 class="font-semibold text-slate-900">{f.title}</h3>
                                <p class="mt-2 text-sm leading-6 text-slate-600">{f.text}</p>
                            </div>
                        }
                    })
                    .collect_view()}
            </div>
        </section>
        <section class="mx-auto max-w-3xl px-4 pb-20 sm:px-6" aria-labelledby="faq-heading">
            <h2 id="faq-heading" class="text-2xl font-bold tracking-tight text-slate-900">
                "Questions"
            </h2>
            <div class="mt-4 rounded-xl bg-white px-6 shadow-sm ring-1 ring-slate-200">
                <Faq entries=faq_entries() />
            </div>
        </section>
    }
}
