//! A question-and-answer list that folds once the page is interactive.
//!
//! The server renders every answer open, so the page reads completely without JavaScript; after
//! hydration all but the first answer fold, and each question toggles its answer.

use leptos::prelude::*;

/// One question with its answer.
#[derive(Clone, Debug)]
pub struct FaqEntry {
    /// The question, shown as the toggle.
    pub question: &'static str,
    /// The answer.
    pub answer: &'static str,
}

/// The folding list of questions.
#[component]
pub fn Faq(entries: Vec<FaqEntry>) -> impl IntoView {
    // `false` on the server and during hydration, so the first client render matches the HTML.
    let interactive = RwSignal::new(false);
    Effect::new(move |_| interactive.set(true));
    let open = RwSignal::new(Some(0usize));

    let items = entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            let expanded = move || !interactive.get() || open.get() == Some(index);
            let toggle = move |_| open.update(|o| *o = if *o == Some(index) { None } else { Some(index) });
            let answer_id = format!("faq-answer-{index}");
            view! {
                <div class="py-4">
                    <h3>
                        <button
                            type="button"
                            class="flex w-full items-center justify-between gap-4 text-left text-base font-semibold text-slate-900 hover:text-indigo-700"
                            aria-controls=answer_id.clone()
                            aria-expanded=move || expanded().to_string()
                            on:click=toggle
                        >
                            <span>{entry.question}</span>
                            <span
                                aria-hidden="true"
                                class="text-xl leading-none text-slate-400 transition-transform"
                                class:rotate-45=expanded
                            >
                                "+"
                            </span>
                        </button>
                    </h3>
                    <p id=answer_id class="mt-2 text-sm leading-6 text-slate-600" class:hidden=move || !expanded()>
                        {entry.answer}
                    </p>
                </div>
            }
        })
        .collect_view();

    view! { <div class="divide-y divide-slate-200">{items}</div> }
}
